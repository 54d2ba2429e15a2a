// Command lstm trains a word-level LSTM language model and quantizes it
// dynamically.
package main

import (
	"flag"
	"fmt"
	"log"
)

func main() {
	text := flag.String("text", "", "text file, one sentence per line (default: the King James Bible from Debian's bible-kjv)")
	flag.Parse()
	var lines []string
	var err error
	if *text != "" {
		lines, err = readTextFile(*text)
	} else {
		lines, err = readBible()
	}
	if err != nil {
		log.Fatal(err)
	}
	c, err := newCorpus(lines)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d verses, vocabulary %d, tokens train/valid/test %d/%d/%d\n", len(lines), len(c.Words), len(c.Train), len(c.Valid), len(c.Test))
}
