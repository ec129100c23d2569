#!/bin/sh
# Regenerates echo.pb.go and echo_grpc.pb.go from echo.proto. The output is
# committed: building the comparison needs neither protoc nor the plugins.
# Needs protoc (Debian: apt-get install protobuf-compiler; this output came
# from libprotoc 3.21.12) and the two Go plugins, at the versions below:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
# (with their install directory, GOBIN or $(go env GOPATH)/bin, on PATH).
set -e
cd "$(dirname "$0")"
protoc --go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative echo.proto
