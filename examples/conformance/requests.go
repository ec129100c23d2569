package main

import (
	"context"

	"github.com/procwire/procwire-go"
)

// Thumbnail is the request and the response of thumbnail and
// thumbnailStrict: a request that does not decode into it is answered
// with the error procwire.CodeBadRequest (see README.md).
type Thumbnail struct {
	Width  int            `msgpack:"width"`
	Height uint8          `msgpack:"height"`
	Format string         `msgpack:"format"`
	Items  []ThumbItem    `msgpack:"items"`
	Meta   map[string]int `msgpack:"meta"`
}

// ThumbItem is an element of Thumbnail.Items.
type ThumbItem struct {
	Width int `msgpack:"width"`
}

// registerRequests registers the methods of the request-decoding contract:
// the same handler, lenient (unknown fields are dropped) and strict
// (unknown fields are refused).
func registerRequests(w *procwire.Worker) {
	echo := func(ctx context.Context, in Thumbnail) (Thumbnail, error) { return in, nil }
	procwire.Handle(w, "thumbnail", echo)
	procwire.Handle(w, "thumbnailStrict", echo, procwire.MethodOptions{Strict: true})
}
