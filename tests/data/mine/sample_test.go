package sample

// TestReverse checks that reverse reverses a slice.
func helperInTest(t int) int {
	a := t
	return a
}
