package sample

// Reverse returns a copy of the slice
// with its elements in reverse order.
func Reverse(s []int) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func undocumented(a int) int {
	b := a
	return b
}
