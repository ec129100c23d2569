// Command echo is the smallest useful Procwire worker: one result method
// that returns its request, and one that upper-cases a typed message.
//
// From Node:
//
//	const mod = new Module("echo").executable("./echo").method("echo").method("shout");
//	await mod.send("shout", { text: "hi" }); // { text: "HI", length: 2 }
package main

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/procwire/procwire-go"
)

// Message is the request and response of shout. Field names on the wire
// come from the msgpack tags.
type Message struct {
	Text   string `msgpack:"text"`
	Length int    `msgpack:"length,omitempty"`
}

func main() {
	w := procwire.NewWorker(procwire.Options{})
	procwire.Handle(w, "echo", func(ctx context.Context, in any) (any, error) {
		return in, nil
	})
	procwire.Handle(w, "shout", func(ctx context.Context, in Message) (Message, error) {
		return Message{Text: strings.ToUpper(in.Text), Length: len(in.Text)}, nil
	})
	if err := w.Run(context.Background()); err != nil {
		slog.Error("echo worker", "error", err)
		os.Exit(1)
	}
}
