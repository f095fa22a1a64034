package client

import "runtime"

func runtimeGosched() { runtime.Gosched() }
