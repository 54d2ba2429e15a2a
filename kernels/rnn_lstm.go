package kernels

import "math"

// LSTMGatesF32 applies the LSTM cell's gate math to one batch row, in
// PyTorch's order (quantized_lstm_cell_dynamic's float part):
//
//	g = f32(gh + gi)  (4H: gates i, f, ĉ, o)
//	c' = f32(f32(σ(g_f)·c) + f32(σ(g_i)·tanh(g_ĉ)));  h' = f32(σ(g_o)·tanh(c'))
//
// gi and gh hold 4H values, h and c H values (updated in place). σ and
// tanh are exactly Sigmoid32 and Tanh32: the same operations (act.go's
// actSigmoid, actTanh and actExpm1), written out in one loop body because
// the compiler does not inline them, so that the five activations of an
// element overlap in the pipeline; TestLSTMGatesF32 checks the equality
// bit for bit. Products are rounded before they are added (no FMA), so
// the results are identical on every build.
func LSTMGatesF32(gi, gh, h, c []float32) {
	hs := len(c)
	h = h[:hs]
	gi, gh = gi[:4*hs], gh[:4*hs]
	for j := range c {
		yI := -float64(gh[j] + gi[j])
		if yI < -actSigMax {
			yI = -actSigMax
		} else if yI > actSigMax {
			yI = actSigMax
		}
		tI := float64(yI*actInvLn2x32) + actRound
		kfI := tI - actRound
		kI := int64(kfI)
		rI := yI - float64(kfI*actLn2d32)
		sI := math.Float64frombits(math.Float64bits(actExp2Tab[kI&31]) + uint64(kI>>5)<<52)
		r2I := float64(rI * rI)
		qI := float64(float64(rI*(1.0/6))+0.5) + float64(r2I*(1.0/24))
		pI := float64(r2I*qI) + rI
		emI := float64(sI*pI) + (sI - 1)
		ig := float32(1 / (2 + emI))
		yF := -float64(gh[hs+j] + gi[hs+j])
		if yF < -actSigMax {
			yF = -actSigMax
		} else if yF > actSigMax {
			yF = actSigMax
		}
		tF := float64(yF*actInvLn2x32) + actRound
		kfF := tF - actRound
		kF := int64(kfF)
		rF := yF - float64(kfF*actLn2d32)
		sF := math.Float64frombits(math.Float64bits(actExp2Tab[kF&31]) + uint64(kF>>5)<<52)
		r2F := float64(rF * rF)
		qF := float64(float64(rF*(1.0/6))+0.5) + float64(r2F*(1.0/24))
		pF := float64(r2F*qF) + rF
		emF := float64(sF*pF) + (sF - 1)
		fg := float32(1 / (2 + emF))
		xG := float64(gh[2*hs+j] + gi[2*hs+j])
		aG := math.Abs(xG)
		if aG > actTanMax {
			aG = actTanMax
		}
		yG := 2 * aG
		tG := float64(yG*actInvLn2x32) + actRound
		kfG := tG - actRound
		kG := int64(kfG)
		rG := yG - float64(kfG*actLn2d32)
		sG := math.Float64frombits(math.Float64bits(actExp2Tab[kG&31]) + uint64(kG>>5)<<52)
		r2G := float64(rG * rG)
		qG := float64(float64(rG*(1.0/6))+0.5) + float64(r2G*(1.0/24))
		pG := float64(r2G*qG) + rG
		emG := float64(sG*pG) + (sG - 1)
		cg := float32(math.Copysign(emG/(emG+2), xG))
		yO := -float64(gh[3*hs+j] + gi[3*hs+j])
		if yO < -actSigMax {
			yO = -actSigMax
		} else if yO > actSigMax {
			yO = actSigMax
		}
		tO := float64(yO*actInvLn2x32) + actRound
		kfO := tO - actRound
		kO := int64(kfO)
		rO := yO - float64(kfO*actLn2d32)
		sO := math.Float64frombits(math.Float64bits(actExp2Tab[kO&31]) + uint64(kO>>5)<<52)
		r2O := float64(rO * rO)
		qO := float64(float64(rO*(1.0/6))+0.5) + float64(r2O*(1.0/24))
		pO := float64(r2O*qO) + rO
		emO := float64(sO*pO) + (sO - 1)
		og := float32(1 / (2 + emO))
		cy := float32(float32(fg*c[j]) + float32(ig*cg))
		c[j] = cy
		xC := float64(cy)
		aC := math.Abs(xC)
		if aC > actTanMax {
			aC = actTanMax
		}
		yC := 2 * aC
		tC := float64(yC*actInvLn2x32) + actRound
		kfC := tC - actRound
		kC := int64(kfC)
		rC := yC - float64(kfC*actLn2d32)
		sC := math.Float64frombits(math.Float64bits(actExp2Tab[kC&31]) + uint64(kC>>5)<<52)
		r2C := float64(rC * rC)
		qC := float64(float64(rC*(1.0/6))+0.5) + float64(r2C*(1.0/24))
		pC := float64(r2C*qC) + rC
		emC := float64(sC*pC) + (sC - 1)
		tc := float32(math.Copysign(emC/(emC+2), xC))
		h[j] = float32(og * tc)
	}
}
