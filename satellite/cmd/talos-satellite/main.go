// Command talos-satellite is the runner at a ground station: see satellite/cli.
package main

import (
	"os"

	"github.com/talos-gs/talos/satellite/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
