package kernels

import "unsafe"

// genericImpl is the portable Go path, the twin of the assembly ones. It
// uses the same packed layout, tiles and epilogue contract.
var genericImpl = &gemmImpl{
	name:  "generic",
	mrMax: func(int) int { return 4 },
	dot:   dotGeneric,
	epi:   func(e *epiArgs) { epiGeneric(e, 0) },
}

// dotGeneric is the Go loop every dotFunc implements, with b = p.data[boff:]
// and bstride = 4·cols:
//
//	c[r·tileLd+j] = Σ_{q<k4} Σ_{t<4} int32(a[r·lda+4q+t])·int32(b[q·bstride+4j+t])
//
// (added to c when accum is set).
func dotGeneric(mr, cols, k4 int, a *uint8, lda int, p *PackedWeights, boff int, c *int32, accum bool) {
	as := unsafe.Slice(a, (mr-1)*lda+k4*4)
	bstride := cols * 4
	bs := p.data[boff : boff+k4*bstride]
	cs := unsafe.Slice(c, mr*tileLd)
	if !accum {
		for r := 0; r < mr; r++ {
			clear(cs[r*tileLd : r*tileLd+cols])
		}
	}
	r := 0
	for ; r+4 <= mr && k4 <= kcQuads; r += 4 {
		// Four rows share every weight load, and two rows share every
		// multiply: x = a[r][t] + a[r+1][t]·2³², so x·w = a[r][t]·w +
		// a[r+1][t]·w·2³² exactly, and the int64 sum is S₀ + S₁·2³². With
		// at most kcQuads·4 = 512 k (the driver's K blocks), |S₀| ≤
		// 512·255·128 < 2³¹ and both sums come back exactly.
		var acc01, acc23 [tileLd]int64
		r0 := as[r*lda : r*lda+k4*4]
		r1 := as[(r+1)*lda : (r+1)*lda+k4*4]
		r2 := as[(r+2)*lda : (r+2)*lda+k4*4]
		r3 := as[(r+3)*lda : (r+3)*lda+k4*4]
		p01, p23 := acc01[:cols], acc23[:cols]
		for q := 0; q < k4; q++ {
			a0, a1 := r0[4*q:4*q+4:4*q+4], r1[4*q:4*q+4:4*q+4]
			a2, a3 := r2[4*q:4*q+4:4*q+4], r3[4*q:4*q+4:4*q+4]
			x0, x1 := int64(a0[0])|int64(a1[0])<<32, int64(a0[1])|int64(a1[1])<<32
			x2, x3 := int64(a0[2])|int64(a1[2])<<32, int64(a0[3])|int64(a1[3])<<32
			y0, y1 := int64(a2[0])|int64(a3[0])<<32, int64(a2[1])|int64(a3[1])<<32
			y2, y3 := int64(a2[2])|int64(a3[2])<<32, int64(a2[3])|int64(a3[3])<<32
			bq := bs[q*bstride : q*bstride+cols*4]
			for j := range p01 {
				w := bq[4*j : 4*j+4 : 4*j+4]
				w0, w1, w2, w3 := int64(w[0]), int64(w[1]), int64(w[2]), int64(w[3])
				p01[j] += x0*w0 + x1*w1 + x2*w2 + x3*w3
				p23[j] += y0*w0 + y1*w1 + y2*w2 + y3*w3
			}
		}
		c0 := cs[r*tileLd : r*tileLd+cols]
		c1 := cs[(r+1)*tileLd : (r+1)*tileLd+cols]
		c2 := cs[(r+2)*tileLd : (r+2)*tileLd+cols]
		c3 := cs[(r+3)*tileLd : (r+3)*tileLd+cols]
		for j := range c0 {
			s0 := int32(p01[j])
			c0[j] += s0
			c1[j] += int32((p01[j] - int64(s0)) >> 32)
			s2 := int32(p23[j])
			c2[j] += s2
			c3[j] += int32((p23[j] - int64(s2)) >> 32)
		}
	}
	for ; r < mr; r++ {
		acc := cs[r*tileLd : r*tileLd+cols]
		row := as[r*lda : r*lda+k4*4]
		for q := 0; q < k4; q++ {
			a0, a1, a2, a3 := int32(row[4*q]), int32(row[4*q+1]), int32(row[4*q+2]), int32(row[4*q+3])
			bq := bs[q*bstride : q*bstride+cols*4]
			for j := range acc {
				w := bq[4*j : 4*j+4 : 4*j+4]
				acc[j] += a0*int32(w[0]) + a1*int32(w[1]) + a2*int32(w[2]) + a3*int32(w[3])
			}
		}
	}
}

// epiGeneric applies the epilogue to columns [j0, e.cols) of the tile:
//
//	acc = c[r][j] + colComp[j] − zw[j]·rowSum[r]
//
// then stores acc (modeInt32), requantF32(f32(f32(acc)·mult[j]) + bias[j])
// (modeU8, modeS8) or f32(f32(acc)·mult[j]) + bias[j] (modeF32).
func epiGeneric(e *epiArgs, j0 int) {
	c := unsafe.Slice(e.c, e.rows*tileLd)
	cc := unsafe.Slice(e.colComp, e.cols)
	var zw, rs []int32
	if e.zw != nil {
		zw = unsafe.Slice(e.zw, e.cols)
		rs = unsafe.Slice(e.rowSum, e.rows)
	}
	var mult, bias []float32
	if e.mode != modeInt32 {
		mult = unsafe.Slice(e.mult, e.cols)
		if e.bias != nil {
			bias = unsafe.Slice(e.bias, e.cols)
		}
	}
	zp, lo, hi := int32(e.zp), int32(e.min), int32(e.max)
	for r := 0; r < e.rows; r++ {
		row := unsafe.Add(e.out, r*e.ldo)
		for j := j0; j < e.cols; j++ {
			acc := c[r*tileLd+j] + cc[j]
			if zw != nil {
				acc -= zw[j] * rs[r]
			}
			if e.mode == modeInt32 {
				*(*int32)(unsafe.Add(row, 4*j)) = acc
				continue
			}
			v := float32(float32(acc) * mult[j])
			if bias != nil {
				v = float32(v + bias[j])
			}
			switch e.mode {
			case modeU8:
				*(*uint8)(unsafe.Add(row, j)) = uint8(requantF32(v, zp, lo, hi))
			case modeS8:
				*(*int8)(unsafe.Add(row, j)) = int8(requantF32(v, zp, lo, hi))
			default:
				*(*float32)(unsafe.Add(row, 4*j)) = v
			}
		}
	}
}
