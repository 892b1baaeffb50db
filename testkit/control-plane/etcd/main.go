// Command etcd is the etcd server of fjord's test control plane: the same
// three lines as upstream's server/main.go, in a module of our own because
// go.etcd.io/etcd/server/v3 carries replace directives (so `go install` is refused).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
