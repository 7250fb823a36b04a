# The replica as a container image: a static Go binary (no cgo, so no libc
# to match) built in one stage and copied into a small image with a shell,
# which the StatefulSet's init container needs to format a data file only
# when none exists (deploy/k8s/replica-statefulset.yaml).
#
#   docker build -t viewstamp-replica:dev .
#   docker run --rm viewstamp-replica:dev version --verbose
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.revision=${REVISION}" -o /out/replica ./cmd/replica

FROM busybox:1.37
COPY --from=build /out/replica /usr/local/bin/replica
# The data file lives on a volume mounted here; it must be a disk
# filesystem (ext4, xfs): the replica opens it with O_DIRECT.
VOLUME /data
EXPOSE 3001
ENTRYPOINT ["/usr/local/bin/replica"]
CMD ["version"]
