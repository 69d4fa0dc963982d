package main

func cmdPktgen(e *env, args []string) int { return 0 }
