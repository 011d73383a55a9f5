package config

// WriteAtomic replaces path with data the way the console-managed files
// are written: a temporary file in the same directory, synced, renamed over
// it (a reader never sees half a file). Other packages' console-managed
// files (provisioning's) use it.
func WriteAtomic(path string, data []byte) error { return writeAtomic(path, data) }
