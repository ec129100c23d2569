package procwire

// Version is the version of this library, procwire-go, in semantic
// versioning; CHANGELOG.md lists what each version changed.
//
// It is not the protocol version a worker announces in the "version" field
// of its $init line: that one is protocol.Version ("1.0.0", the version of
// the Procwire protocol that @procwire/core 1.5.0 expects), and it does not
// change with the library's releases.
const Version = "0.3.0-dev"
