# Container image of aws-iam-authenticator for Deno: the compiled binary on a distroless base.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=0.1.0 --build-arg COMMIT="$(git rev-parse HEAD)" \
#     -t ghcr.io/<owner>/aws-iam-authenticator-deno:0.1.0 .
#
# The build stage always runs on the build machine's own platform and cross-compiles with
# `deno compile --target` (no emulation): `deno compile` fetches the target's runtime itself.
# Like the Go tool's image, the binary is /aws-iam-authenticator (so manifests written for it
# keep working: `args: [server, ...]`) and it runs as the distroless nonroot user (65532).

ARG DENO_VERSION=2.9.6

FROM --platform=$BUILDPLATFORM denoland/deno:${DENO_VERSION} AS build
ARG TARGETARCH
ARG VERSION=""
ARG COMMIT=""
WORKDIR /src
# Dependencies first, so source edits do not refetch npm packages.
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY main.ts ./
COPY src ./src
COPY scripts ./scripts
RUN set -eu; \
    case "$TARGETARCH" in \
      amd64) target=x86_64-unknown-linux-gnu ;; \
      arm64) target=aarch64-unknown-linux-gnu ;; \
      *) echo "unsupported TARGETARCH '$TARGETARCH' (amd64 or arm64)" >&2; exit 1 ;; \
    esac; \
    deno task compile --target "$target" --out-dir /out \
      ${VERSION:+--version "$VERSION"} ${COMMIT:+--commit "$COMMIT"}; \
    cp /out/aws-iam-authenticator_*_linux_"$TARGETARCH" /aws-iam-authenticator; \
    chmod 0755 /aws-iam-authenticator

# glibc and libgcc are all the Deno runtime links against; CA roots are built into it.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /aws-iam-authenticator /aws-iam-authenticator
USER 65532:65532
EXPOSE 21362 21363
ENTRYPOINT ["/aws-iam-authenticator"]
CMD ["--help"]
