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
	for ; r+4 <= mr; r += 4 {
		// Four rows share every weight load.
		c0 := cs[r*tileLd : r*tileLd+cols]
		c1 := cs[(r+1)*tileLd : (r+1)*tileLd+cols]
		c2 := cs[(r+2)*tileLd : (r+2)*tileLd+cols]
		c3 := cs[(r+3)*tileLd : (r+3)*tileLd+cols]
		r0 := as[r*lda : r*lda+k4*4]
		r1 := as[(r+1)*lda : (r+1)*lda+k4*4]
		r2 := as[(r+2)*lda : (r+2)*lda+k4*4]
		r3 := as[(r+3)*lda : (r+3)*lda+k4*4]
		for q := 0; q < k4; q++ {
			a := r0[4*q : 4*q+4 : 4*q+4]
			x00, x01, x02, x03 := int32(a[0]), int32(a[1]), int32(a[2]), int32(a[3])
			a = r1[4*q : 4*q+4 : 4*q+4]
			x10, x11, x12, x13 := int32(a[0]), int32(a[1]), int32(a[2]), int32(a[3])
			a = r2[4*q : 4*q+4 : 4*q+4]
			x20, x21, x22, x23 := int32(a[0]), int32(a[1]), int32(a[2]), int32(a[3])
			a = r3[4*q : 4*q+4 : 4*q+4]
			x30, x31, x32, x33 := int32(a[0]), int32(a[1]), int32(a[2]), int32(a[3])
			bq := bs[q*bstride : q*bstride+cols*4]
			for j := range c0 {
				w := bq[4*j : 4*j+4 : 4*j+4]
				w0, w1, w2, w3 := int32(w[0]), int32(w[1]), int32(w[2]), int32(w[3])
				c0[j] += x00*w0 + x01*w1 + x02*w2 + x03*w3
				c1[j] += x10*w0 + x11*w1 + x12*w2 + x13*w3
				c2[j] += x20*w0 + x21*w1 + x22*w2 + x23*w3
				c3[j] += x30*w0 + x31*w1 + x32*w2 + x33*w3
			}
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
