package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
)

func buildGoldenMore(c goldenCase) (Module, error) {
	return nil, fmt.Errorf("no builder for %s", c.Type)
}

func forwardGolden(m Module, ins []*gorgonia.Node) ([]*gorgonia.Node, error) {
	y, err := Call(m, ins[0])
	return []*gorgonia.Node{y}, err
}
