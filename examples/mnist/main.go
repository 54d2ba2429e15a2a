// Command mnist trains a small CNN on MNIST-format data and quantizes it.
package main

import (
	"flag"
	"fmt"
	"log"
)

func main() {
	data := flag.String("data", "/usr/share/datasets/fashion-mnist", "directory with MNIST-format IDX files (plain or .gz)")
	flag.Parse()
	test, err := loadSplit(*data, "t10k", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("loaded %d test images of %dx%d\n", test.N, test.Rows, test.Cols)
}
