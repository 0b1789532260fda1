package order

// The tests use real time zones; the embedded database makes them work on
// machines without a zoneinfo directory (the binary embeds it too).
import _ "time/tzdata"
