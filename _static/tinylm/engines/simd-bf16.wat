;; WebAssembly SIMD kernels for the Llama CPU engine (llama.js): products with bfloat16
;; weights, widened to float32 inside the kernel, every sum in float32.
;;
;; Weights keep the checkpoint's nn.Linear layout W [N, K] (y = x Wᵀ), bfloat16, so the file's
;; body can be copied into memory as it arrives and read in place. A bfloat16 is the upper
;; half of a float32: of the eight weights one v128 load holds, i32x4.shl 16 gives the four
;; at even positions as float32 and v128.and 0xffff0000 the four at odd positions, two
;; instructions for eight weights and no shuffles. So x is read "permuted": each group of 8
;; floats as [x0 x2 x4 x6 | x1 x3 x5 x7] (permute8 writes it). K is a multiple of 8.
;;
;; gemv_bf16: one row (a generated token), four rows of W per sweep of x, eight f32x4 sums.
;; gemm_bf16: T rows (the prompt pass), two rows of W meet four rows of x, so each row of W
;; is widened once per four rows of x and stays in L1 while all of them pass.
;; Every multiply-add is written in one form, (local.set $c (f32x4.add (local.get $c) (f32x4.mul
;; (local.get $a) (local.get $b)))), so that tools/build_wasm.mjs can compile a second module from
;; this text with each such line made one relaxed-SIMD f32x4.relaxed_madd (a fused multiply-add
;; where the CPU has one: one rounding instead of two, about a fifth faster for the prompt's
;; gemm_bf16). llama-wasm.js takes that one where WebAssembly.validate accepts it (Chromium since
;; 114; Node 20 only with --experimental-wasm-relaxed-simd), else this plain-SIMD one.
;; Compiled to simd-bf16.js by tools/build_wasm.mjs (wabt). The module owns its memory;
;; llama.js grows it once to hold the weights.
(module
  (memory (export "memory") 1)

  ;; x [n] at $x -> $p in the permuted layout above (n a multiple of 8; $x ≠ $p).
  (func (export "permute8") (param $x i32) (param $p i32) (param $n i32)
    (local $end i32) (local $a v128) (local $b v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $a (v128.load (local.get $x)))
        (local.set $b (v128.load offset=16 (local.get $x)))
        (v128.store (local.get $p)
          (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $a) (local.get $b)))
        (v128.store offset=16 (local.get $p)
          (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $x (i32.add (local.get $x) (i32.const 32)))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br $next))))

  ;; ---- attention over the KV cache (llama-wasm.js's attend): simd.wat's rowdots and mix, the
  ;; same text; the softmax between them stays in JavaScript (Math.exp). Unfused in both builds.

  ;; out[j] = a · b_j for j < count, the rows b_j $rs bytes apart, n floats each (n a multiple of 4)
  (func (export "rowdots") (param $out i32) (param $a i32) (param $b i32) (param $rs i32) (param $count i32) (param $n i32)
    (local $end i32) (local $c i32) (local $acc v128)
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $c (i32.const 0))
        (block $c_done
          (loop $cs
            (br_if $c_done (i32.ge_u (local.get $c) (i32.shl (local.get $n) (i32.const 2))))
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $c))) (v128.load (i32.add (local.get $b) (local.get $c))))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $cs)))
        (f32.store (local.get $out)
          (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
                   (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (local.get $rs)))
        (br $next))))

  ;; y[c] += Σ_j w_j · x_j[c] for j < count, c < n: the weights $ws bytes apart, the rows x_j
  ;; $rs bytes apart (n a multiple of 4)
  (func (export "mix") (param $y i32) (param $w i32) (param $ws i32) (param $x i32) (param $rs i32) (param $count i32) (param $n i32)
    (local $c i32) (local $j i32) (local $acc v128) (local $wp i32) (local $xp i32)
    (local.set $c (i32.const 0))
    (block $c_done
      (loop $cs
        (br_if $c_done (i32.ge_u (local.get $c) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $acc (v128.load (i32.add (local.get $y) (local.get $c))))
        (local.set $wp (local.get $w))
        (local.set $xp (i32.add (local.get $x) (local.get $c)))
        (local.set $j (i32.const 0))
        (block $j_done
          (loop $js
            (br_if $j_done (i32.ge_u (local.get $j) (local.get $count)))
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.mul (v128.load32_splat (local.get $wp)) (v128.load (local.get $xp)))))
            (local.set $wp (i32.add (local.get $wp) (local.get $ws)))
            (local.set $xp (i32.add (local.get $xp) (local.get $rs)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $js)))
        (v128.store (i32.add (local.get $y) (local.get $c)) (local.get $acc))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $cs))))

  ;; e^x for each lane, float32 (Cephes' expf: x = n·ln2 + r, |r| ≤ ln2/2, a degree-7 polynomial
  ;; in r, times 2^n built in the exponent bits), within 2 ulp; x clamped to [-87, 88] (no infinities,
  ;; no subnormals: e^-87 ≈ 1.6e-38 and e^88 ≈ 1.7e38 stand in for what lies past them).
  (func $exp4 (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -87 -87 -87 -87)) (v128.const f32x4 88 88 88 88)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504089 1.44269504089 1.44269504089 1.44269504089))))
    (local.set $r (f32x4.sub (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
                             (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p (f32x4.add (f32x4.add (f32x4.mul (f32x4.mul (local.get $p) (local.get $r)) (local.get $r)) (local.get $r)) (v128.const f32x4 1 1 1 1)))
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))

  ;; silu(g)·u = g / (1 + e^-g) · u over n floats: gate at $g, up at $u (float32), the products
  ;; written at $p in the permuted layout (permute8's: ready to be the next product's x). n a
  ;; multiple of 8; $p apart from $g and $u.
  (func (export "swiglu") (param $g i32) (param $u i32) (param $p i32) (param $n i32)
    (local $end i32) (local $a v128) (local $b v128)
    (local.set $end (i32.add (local.get $g) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $g) (local.get $end)))
        (local.set $a (call $silu_up (v128.load (local.get $g)) (v128.load (local.get $u))))
        (local.set $b (call $silu_up (v128.load offset=16 (local.get $g)) (v128.load offset=16 (local.get $u))))
        (v128.store (local.get $p)
          (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $a) (local.get $b)))
        (v128.store offset=16 (local.get $p)
          (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $g (i32.add (local.get $g) (i32.const 32)))
        (local.set $u (i32.add (local.get $u) (i32.const 32)))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br $next))))

  (func $silu_up (param $g v128) (param $u v128) (result v128)
    (f32x4.mul (f32x4.div (local.get $g) (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.neg (local.get $g))))) (local.get $u)))

  ;; the sum of a vector's four lanes
  (func $hsum (param $v v128) (result f32)
    (f32.add (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
             (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; y[n] (+)= Σ_k x[k]·W[n, k] for n < N: x permuted at $x [K], W bfloat16 [N, K] at $w, y
  ;; float32 at $y; $acc ≠ 0 adds to y. N a multiple of 4, K of 8 (at least 8). Four rows of W per
  ;; sweep of x, sixteen k a step (eight f32x4 sums), a last step of eight when K is not a multiple
  ;; of 16: two steps' loads in flight keep the memory busier (~10% more tokens/s than eight a step).
  (func (export "gemv_bf16") (param $x i32) (param $w i32) (param $y i32) (param $K i32) (param $N i32) (param $acc i32)
    (local $rb i32) (local $n i32) (local $xp i32) (local $end i32) (local $mid i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $xe v128) (local $xo v128) (local $v v128) (local $s v128) (local $e v128) (local $o v128)
    (local.set $rb (i32.shl (local.get $K) (i32.const 1)))              ;; bytes per row of W
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $K) (i32.const 2))))
    (local.set $mid (i32.add (local.get $x) (i32.shl (i32.and (local.get $K) (i32.const -16)) (i32.const 2))))   ;; whole steps of 16 end here
    (local.set $r0 (local.get $w))
    (local.set $n (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $r1 (i32.add (local.get $r0) (local.get $rb)))
        (local.set $r2 (i32.add (local.get $r1) (local.get $rb)))
        (local.set $r3 (i32.add (local.get $r2) (local.get $rb)))
        (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0)) (local.set $b1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $b2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0)) (local.set $b3 (v128.const i32x4 0 0 0 0))
        (local.set $xp (local.get $x))
        (block $ks_done
          (loop $ks
            (br_if $ks_done (i32.ge_u (local.get $xp) (local.get $mid)))
            (local.set $xe (v128.load offset=0 (local.get $xp)))
            (local.set $xo (v128.load offset=16 (local.get $xp)))
            (local.set $v (v128.load offset=0 (local.get $r0)))
            (local.set $e (i32x4.shl (local.get $v) (i32.const 16)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $e) (local.get $xe))))
            (local.set $o (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
            (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $o) (local.get $xo))))
            (local.set $v (v128.load offset=0 (local.get $r1)))
            (local.set $e (i32x4.shl (local.get $v) (i32.const 16)))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $e) (local.get $xe))))
            (local.set $o (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
            (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $o) (local.get $xo))))
            (local.set $v (v128.load offset=0 (local.get $r2)))
            (local.set $e (i32x4.shl (local.get $v) (i32.const 16)))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $e) (local.get $xe))))
            (local.set $o (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
            (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $o) (local.get $xo))))
            (local.set $v (v128.load offset=0 (local.get $r3)))
            (local.set $e (i32x4.shl (local.get $v) (i32.const 16)))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $e) (local.get $xe))))
            (local.set $o (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
            (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $o) (local.get $xo))))
            (local.set $xe (v128.load offset=32 (local.get $xp)))
            (local.set $xo (v128.load offset=48 (local.get $xp)))
            (local.set $v (v128.load offset=16 (local.get $r0)))
            (local.set $e (i32x4.shl (local.get $v) (i32.const 16)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $e) (local.get $xe))))
            (local.set $o (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
            (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $o) (local.get $xo))))
            (local.set $v (v128.load offset=16 (local.get $r1)))
            (local.set $e (i32x4.shl (local.get $v) (i32.const 16)))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $e) (local.get $xe))))
            (local.set $o (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
            (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $o) (local.get $xo))))
            (local.set $v (v128.load offset=16 (local.get $r2)))
            (local.set $e (i32x4.shl (local.get $v) (i32.const 16)))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $e) (local.get $xe))))
            (local.set $o (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
            (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $o) (local.get $xo))))
            (local.set $v (v128.load offset=16 (local.get $r3)))
            (local.set $e (i32x4.shl (local.get $v) (i32.const 16)))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $e) (local.get $xe))))
            (local.set $o (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
            (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $o) (local.get $xo))))
            (local.set $r0 (i32.add (local.get $r0) (i32.const 32)))
            (local.set $r1 (i32.add (local.get $r1) (i32.const 32)))
            (local.set $r2 (i32.add (local.get $r2) (i32.const 32)))
            (local.set $r3 (i32.add (local.get $r3) (i32.const 32)))
            (local.set $xp (i32.add (local.get $xp) (i32.const 64)))
            (br $ks)))
        (if (i32.lt_u (local.get $xp) (local.get $end)) (then                ;; the last eight when K % 16 = 8
          (local.set $xe (v128.load offset=0 (local.get $xp)))
          (local.set $xo (v128.load offset=16 (local.get $xp)))
          (local.set $v (v128.load offset=0 (local.get $r0)))
          (local.set $e (i32x4.shl (local.get $v) (i32.const 16)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $e) (local.get $xe))))
          (local.set $o (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
          (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $o) (local.get $xo))))
          (local.set $v (v128.load offset=0 (local.get $r1)))
          (local.set $e (i32x4.shl (local.get $v) (i32.const 16)))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $e) (local.get $xe))))
          (local.set $o (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
          (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $o) (local.get $xo))))
          (local.set $v (v128.load offset=0 (local.get $r2)))
          (local.set $e (i32x4.shl (local.get $v) (i32.const 16)))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $e) (local.get $xe))))
          (local.set $o (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
          (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $o) (local.get $xo))))
          (local.set $v (v128.load offset=0 (local.get $r3)))
          (local.set $e (i32x4.shl (local.get $v) (i32.const 16)))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $e) (local.get $xe))))
          (local.set $o (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
          (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $o) (local.get $xo))))
          (local.set $r0 (i32.add (local.get $r0) (i32.const 16)))
          (local.set $r1 (i32.add (local.get $r1) (i32.const 16)))
          (local.set $r2 (i32.add (local.get $r2) (i32.const 16)))
          (local.set $r3 (i32.add (local.get $r3) (i32.const 16)))
          (local.set $xp (i32.add (local.get $xp) (i32.const 32)))))
        ;; [Σa0+b0, Σa1+b1, Σa2+b2, Σa3+b3] -> y[n .. n+3]
        (local.set $s (f32x4.replace_lane 0 (local.get $s) (call $hsum (f32x4.add (local.get $a0) (local.get $b0)))))
        (local.set $s (f32x4.replace_lane 1 (local.get $s) (call $hsum (f32x4.add (local.get $a1) (local.get $b1)))))
        (local.set $s (f32x4.replace_lane 2 (local.get $s) (call $hsum (f32x4.add (local.get $a2) (local.get $b2)))))
        (local.set $s (f32x4.replace_lane 3 (local.get $s) (call $hsum (f32x4.add (local.get $a3) (local.get $b3)))))
        (if (local.get $acc) (then (local.set $s (f32x4.add (local.get $s) (v128.load (local.get $y))))))
        (v128.store (local.get $y) (local.get $s))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (local.set $r0 (local.get $r3))                                  ;; r3 has reached the next block's first row
        (local.set $n (i32.add (local.get $n) (i32.const 4)))
        (br $rows))))

  ;; Y[T, N] (+)= X[T, K] · Wᵀ: X permuted row by row at $x (rows K floats apart), W bfloat16
  ;; [N, K] at $w, Y float32 row-major at $y; $acc ≠ 0 adds to Y. T a multiple of 4, N of 2,
  ;; K of 8. Rows of W two at a time, each pair meeting every block of four rows of X.
  (func (export "gemm_bf16") (param $x i32) (param $w i32) (param $y i32) (param $T i32) (param $K i32) (param $N i32) (param $acc i32)
    (local $rb i32) (local $xb i32) (local $yb i32) (local $n i32) (local $t i32) (local $j i32)
    (local $r0 i32) (local $r1 i32) (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32) (local $yp i32)
    (local $e0 v128) (local $o0 v128) (local $e1 v128) (local $o1 v128) (local $xe v128) (local $xo v128) (local $v v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $rb (i32.shl (local.get $K) (i32.const 1)))              ;; bytes per row of W
    (local.set $xb (i32.shl (local.get $K) (i32.const 2)))              ;; bytes per row of X
    (local.set $yb (i32.shl (local.get $N) (i32.const 2)))              ;; bytes per row of Y
    (local.set $n (i32.const 0))
    (block $n_done
      (loop $ns
        (br_if $n_done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $t (i32.const 0))
        (block $t_done
          (loop $ts
            (br_if $t_done (i32.ge_u (local.get $t) (local.get $T)))
            (local.set $r0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $rb))))
            (local.set $r1 (i32.add (local.get $r0) (local.get $rb)))
            (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $t) (local.get $xb))))
            (local.set $x1 (i32.add (local.get $x0) (local.get $xb)))
            (local.set $x2 (i32.add (local.get $x1) (local.get $xb)))
            (local.set $x3 (i32.add (local.get $x2) (local.get $xb)))
            (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))
            (local.set $c10 (v128.const i32x4 0 0 0 0)) (local.set $c11 (v128.const i32x4 0 0 0 0))
            (local.set $c20 (v128.const i32x4 0 0 0 0)) (local.set $c21 (v128.const i32x4 0 0 0 0))
            (local.set $c30 (v128.const i32x4 0 0 0 0)) (local.set $c31 (v128.const i32x4 0 0 0 0))
            (local.set $j (i32.const 0))                                 ;; byte offset in a row of X (2× that in W)
            (loop $ks
              (local.set $v (v128.load (local.get $r0)))
              (local.set $e0 (i32x4.shl (local.get $v) (i32.const 16)))
              (local.set $o0 (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
              (local.set $v (v128.load (local.get $r1)))
              (local.set $e1 (i32x4.shl (local.get $v) (i32.const 16)))
              (local.set $o1 (v128.and (local.get $v) (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000)))
              (local.set $xe (v128.load (i32.add (local.get $x0) (local.get $j))))
              (local.set $xo (v128.load offset=16 (i32.add (local.get $x0) (local.get $j))))
              (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $e0) (local.get $xe))))
              (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $o0) (local.get $xo))))
              (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $e1) (local.get $xe))))
              (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $o1) (local.get $xo))))
              (local.set $xe (v128.load (i32.add (local.get $x1) (local.get $j))))
              (local.set $xo (v128.load offset=16 (i32.add (local.get $x1) (local.get $j))))
              (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $e0) (local.get $xe))))
              (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $o0) (local.get $xo))))
              (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $e1) (local.get $xe))))
              (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $o1) (local.get $xo))))
              (local.set $xe (v128.load (i32.add (local.get $x2) (local.get $j))))
              (local.set $xo (v128.load offset=16 (i32.add (local.get $x2) (local.get $j))))
              (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $e0) (local.get $xe))))
              (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $o0) (local.get $xo))))
              (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $e1) (local.get $xe))))
              (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $o1) (local.get $xo))))
              (local.set $xe (v128.load (i32.add (local.get $x3) (local.get $j))))
              (local.set $xo (v128.load offset=16 (i32.add (local.get $x3) (local.get $j))))
              (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $e0) (local.get $xe))))
              (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $o0) (local.get $xo))))
              (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $e1) (local.get $xe))))
              (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $o1) (local.get $xo))))
              (local.set $r0 (i32.add (local.get $r0) (i32.const 16)))
              (local.set $r1 (i32.add (local.get $r1) (i32.const 16)))
              (local.set $j (i32.add (local.get $j) (i32.const 32)))
              (br_if $ks (i32.lt_u (local.get $j) (local.get $xb))))
            ;; Y[t + i, n] and Y[t + i, n + 1] for i < 4
            (local.set $yp (i32.add (local.get $y) (i32.add (i32.mul (local.get $t) (local.get $yb)) (i32.shl (local.get $n) (i32.const 2)))))
            (call $put2 (local.get $yp) (local.get $c00) (local.get $c01) (local.get $acc))
            (local.set $yp (i32.add (local.get $yp) (local.get $yb)))
            (call $put2 (local.get $yp) (local.get $c10) (local.get $c11) (local.get $acc))
            (local.set $yp (i32.add (local.get $yp) (local.get $yb)))
            (call $put2 (local.get $yp) (local.get $c20) (local.get $c21) (local.get $acc))
            (local.set $yp (i32.add (local.get $yp) (local.get $yb)))
            (call $put2 (local.get $yp) (local.get $c30) (local.get $c31) (local.get $acc))
            (local.set $t (i32.add (local.get $t) (i32.const 4)))
            (br $ts)))
        (local.set $n (i32.add (local.get $n) (i32.const 2)))
        (br $ns))))

  ;; y[0] (+)= Σ lanes of a, y[1] (+)= Σ lanes of b
  (func $put2 (param $y i32) (param $a v128) (param $b v128) (param $acc i32)
    (local $s f32) (local $u f32)
    (local.set $s (call $hsum (local.get $a)))
    (local.set $u (call $hsum (local.get $b)))
    (if (local.get $acc) (then
      (local.set $s (f32.add (local.get $s) (f32.load (local.get $y))))
      (local.set $u (f32.add (local.get $u) (f32.load offset=4 (local.get $y))))))
    (f32.store (local.get $y) (local.get $s))
    (f32.store offset=4 (local.get $y) (local.get $u)))
)
