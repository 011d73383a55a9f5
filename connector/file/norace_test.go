//go:build !race

package file

// raceEnabled is set when the tests run with the race detector.
const raceEnabled = false
