package main

import (
	"context"
	"time"

	"github.com/procwire/procwire-go"
)

// Shape is the request and the response of shape: one field of each kind
// the contract describes (see README.md), for the generated TypeScript
// definitions and the run-time check of the values Node receives.
type Shape struct {
	Name  string         `msgpack:"name"`
	Count int32          `msgpack:"count"`
	Ratio float64        `msgpack:"ratio"`
	Big   uint64         `msgpack:"big"`
	Data  []byte         `msgpack:"data"`
	When  time.Time      `msgpack:"when"`
	Note  *string        `msgpack:"note"`
	Tags  []string       `msgpack:"tags,omitempty"`
	Attrs map[string]int `msgpack:"attrs"`
	Grid  [][]float64    `msgpack:"grid"`
	Child *Shape         `msgpack:"child,omitempty"`
	Flag  bool           `msgpack:"flag"`
	ShapeMeta
	Skipped string `msgpack:"-"`
}

// ShapeMeta is embedded in Shape: its fields are Shape's on the wire.
type ShapeMeta struct {
	ID     int64             `msgpack:"id"`
	Labels map[string]string `msgpack:"labels,omitempty"`
}

// ShapeItem is a chunk of shapes.
type ShapeItem struct {
	I     int       `msgpack:"i"`
	Even  bool      `msgpack:"even"`
	Blob  []byte    `msgpack:"blob"`
	At    time.Time `msgpack:"at"`
	Score *float64  `msgpack:"score"`
}

// shapesEpoch is the time of the first chunk of shapes.
var shapesEpoch = time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)

// registerTyped registers shape and shapes.
func registerTyped(w *procwire.Worker) {
	procwire.Handle(w, "shape", func(ctx context.Context, in Shape) (Shape, error) {
		return in, nil
	})
	procwire.HandleStream(w, "shapes", func(ctx context.Context, in Count, out *procwire.Stream[ShapeItem]) error {
		for i := 0; i < in.N; i++ {
			item := ShapeItem{I: i, Even: i%2 == 0, Blob: []byte{byte(i), byte(i)}, At: shapesEpoch.Add(time.Duration(i) * time.Second)}
			if item.Even {
				score := float64(i) / 2
				item.Score = &score
			}
			if err := out.Send(item); err != nil {
				return err
			}
		}
		return nil
	})
}
