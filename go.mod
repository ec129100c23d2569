module github.com/procwire/procwire-go

go 1.24

require (
	github.com/Microsoft/go-winio v0.6.2
	github.com/vmihailenco/msgpack/v5 v5.4.1
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.30.0
)

require github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
