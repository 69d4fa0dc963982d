//go:build race

package ring

// raceEnabled scales the concurrency tests down under the race detector,
// which slows every synchronising operation by one to two orders of
// magnitude.
const raceEnabled = true
