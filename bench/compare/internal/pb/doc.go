// Package pb is the gRPC service of the go-plugin side of the comparison,
// generated from echo.proto by protoc-gen-go and protoc-gen-go-grpc. The
// generated files are committed; generate.sh regenerates them.
package pb
