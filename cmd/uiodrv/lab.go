package main

func cmdLab(e *env, args []string) int { return 0 }
