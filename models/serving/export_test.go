package serving

// SetMergeWindow sets MergeFrom's window to n bytes until the returned
// function restores it, so that a test's small pieces take many reads.
func SetMergeWindow(n int) (restore func()) {
	old := mergeWindow
	mergeWindow = uint64(n)
	return func() { mergeWindow = old }
}
