# Build: docker build --build-arg VERSION=$(git describe --always) -t fhirbill .
# Run:   docker run -p 8080:8080 -v fhirbill-data:/data -v $PWD/auth:/auth:ro \
#          -e FHIRBILL_BASE_URL=http://localhost:8080/fhir \
#          -e FHIRBILL_AUTH_CONFIG=/auth/auth.json fhirbill
#        (authorization is on; README "Authorization" and "Docker".
#        FHIRBILL_BASE_URL is the URL clients use, the tokens' audience.
#        The image runs as uid 65532, which must be able to read the
#        mounted files: openssl writes keys mode 0600 for the host user, so
#        chmod 0644 the signing key for a trial, or chown it to 65532, or
#        pass it in the variable signing_key_env names. A throwaway trial:
#        -e FHIRBILL_AUTH=off)
#
# Stage 1 builds a static binary (the embedded store's SQLite is pure Go,
# so CGO is not needed).
# The Go of go.mod's go line: the official images set GOTOOLCHAIN=local,
# so they build only with their own Go.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN mkdir -p /out/data && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/fhirbill ./cmd/fhirbill

# Stage 2: nothing but the binary, CA certificates and a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fhirbill /usr/local/bin/fhirbill
# The data directory belongs to the nonroot user (uid 65532), so a fresh
# volume mounted there is writable.
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot:nonroot
VOLUME ["/data"]
# Set FHIRBILL_BASE_URL to the URL clients use, e.g. https://billing.example.org/fhir;
# without it the base is http://localhost:8080/fhir, right only for clients
# on the Docker host with -p 8080:8080.
ENV FHIRBILL_LISTEN=:8080 \
    FHIRBILL_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/fhirbill"]
CMD ["serve"]
