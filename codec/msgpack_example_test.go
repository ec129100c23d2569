package codec_test

import (
	"errors"
	"fmt"

	"github.com/procwire/procwire-go/codec"
)

type Thumbnail struct {
	Width  int   `msgpack:"width"`
	Height uint8 `msgpack:"height"`
}

func ExampleDecodeError() {
	payload, _ := codec.MsgPack.Marshal(map[string]any{"width": "120"})
	var req Thumbnail
	err := codec.MsgPack.Unmarshal(payload, &req)
	fmt.Println(err)
	var de *codec.DecodeError
	if errors.As(err, &de) {
		fmt.Printf("field %s, want %s, got %s\n", de.Field, de.Want, de.Got)
	}
	payload, _ = codec.MsgPack.Marshal(map[string]any{"height": 300})
	fmt.Println(codec.MsgPack.Unmarshal(payload, &req))
	fmt.Println(codec.MsgPack.Unmarshal(payload[:len(payload)-1], &req))
	// Output:
	// msgpack: field "width": want integer, got string "120"
	// field width, want integer, got string "120"
	// msgpack: field "height": want uint8 (0..255), got integer 300
	// msgpack: field "height": want uint8, got end of input
}

func ExampleMsgPackStrict() {
	payload, _ := codec.MsgPack.Marshal(map[string]any{"width": 640, "widht": 480})
	var req Thumbnail
	fmt.Println(codec.MsgPack.Unmarshal(payload, &req), req.Width)
	fmt.Println(codec.MsgPackStrict.Unmarshal(payload, &req))
	// Output:
	// <nil> 640
	// msgpack: field "widht": unknown field
}

func ExampleMsgPackLen() {
	payload, _ := codec.MsgPack.Marshal(map[string]any{"width": 640})
	fmt.Println(codec.MsgPackLen(payload))
	fmt.Println(codec.MsgPackLen(append(payload, "junk"...)))
	fmt.Println(codec.MsgPackLen(payload[:len(payload)-1]))
	// Output:
	// 10 <nil>
	// 10 <nil>
	// 0 msgpack: end of input
}
