package store

// SetHeartbeatReadHook makes fn run inside every RecordHeartbeat transaction right after the
// satellite's status was read (fn gets the transaction's store), until the returned function
// removes it. Tests use it to run the offline sweep exactly in that gap.
func SetHeartbeatReadHook(fn func(tx *Store, satelliteID string)) (remove func()) {
	heartbeatReadHook.Store(&fn)
	return func() { heartbeatReadHook.Store(nil) }
}
