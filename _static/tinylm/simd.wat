;; WebAssembly SIMD (f32x4) kernels for the CPU engine: gemm (below), and exp for
;; the softmax of the loss and the tanh of GELU (further down).
;;
;; gemm: C += A @ B on 4×8 blocks.
;;
;; A [M, K], B [K, N], C [M, N]: float32 at byte offsets a, b, c of the exported
;; memory; B and C row-major, A[i, k] at a + i·ra + k·ka (bytes), so A can be read
;; row-major (ra = 4K, ka = 4) or as the transpose of a [K, M] array (ra = 4, ka = 4M). Only rows below M - M % 4 and columns below N - N % 8 are
;; computed; linalg.js does the edges in JavaScript. Each block keeps its 4×8 sums
;; in eight v128 locals: per step of k, two loads of B and four splats of A feed
;; eight multiply-adds. Compiled to simd.js by tools/build_wasm.mjs (wabt).
(module
  (memory (export "memory") 1)
  (func (export "gemm") (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32) (param $N i32)
    (param $ra i32) (param $ka i32)
    (local $i i32) (local $j i32) (local $k i32) (local $M4 i32) (local $N8 i32)
    (local $sb i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $bp i32) (local $cp i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local.set $sb (i32.shl (local.get $N) (i32.const 2)))          ;; bytes per row of B and C
    (local.set $M4 (i32.and (local.get $M) (i32.const -4)))
    (local.set $N8 (i32.and (local.get $N) (i32.const -8)))
    (local.set $i (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $M4)))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $N8)))
            (local.set $c00 (v128.const f32x4 0 0 0 0)) (local.set $c01 (v128.const f32x4 0 0 0 0))
            (local.set $c10 (v128.const f32x4 0 0 0 0)) (local.set $c11 (v128.const f32x4 0 0 0 0))
            (local.set $c20 (v128.const f32x4 0 0 0 0)) (local.set $c21 (v128.const f32x4 0 0 0 0))
            (local.set $c30 (v128.const f32x4 0 0 0 0)) (local.set $c31 (v128.const f32x4 0 0 0 0))
            (local.set $a0 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ra))))
            (local.set $a1 (i32.add (local.get $a0) (local.get $ra)))
            (local.set $a2 (i32.add (local.get $a1) (local.get $ra)))
            (local.set $a3 (i32.add (local.get $a2) (local.get $ra)))
            (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $k (i32.const 0))
            (block $k_done
              (loop $ks
                (br_if $k_done (i32.ge_u (local.get $k) (local.get $K)))
                (local.set $b0 (v128.load (local.get $bp)))
                (local.set $b1 (v128.load offset=16 (local.get $bp)))
                (local.set $x (v128.load32_splat (local.get $a0)))
                (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $x (v128.load32_splat (local.get $a1)))
                (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $x (v128.load32_splat (local.get $a2)))
                (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $x (v128.load32_splat (local.get $a3)))
                (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $a0 (i32.add (local.get $a0) (local.get $ka)))
                (local.set $a1 (i32.add (local.get $a1) (local.get $ka)))
                (local.set $a2 (i32.add (local.get $a2) (local.get $ka)))
                (local.set $a3 (i32.add (local.get $a3) (local.get $ka)))
                (local.set $bp (i32.add (local.get $bp) (local.get $sb)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $ks)))
            ;; C[i .. i+3, j .. j+7] += the sums
            (local.set $cp (i32.add (local.get $c)
              (i32.add (i32.mul (local.get $i) (local.get $sb)) (i32.shl (local.get $j) (i32.const 2)))))
            (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) (local.get $c00)))
            (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) (local.get $c01)))
            (local.set $cp (i32.add (local.get $cp) (local.get $sb)))
            (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) (local.get $c10)))
            (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) (local.get $c11)))
            (local.set $cp (i32.add (local.get $cp) (local.get $sb)))
            (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) (local.get $c20)))
            (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) (local.get $c21)))
            (local.set $cp (i32.add (local.get $cp) (local.get $sb)))
            (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) (local.get $c30)))
            (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) (local.get $c31)))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $rows))))

  ;; exp(x) for four floats: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 in two parts, as Cephes
  ;; does), e^r by its degree-6 Taylor polynomial (relative error ≤ 2e-7), 2^n from the
  ;; exponent bits. x is clamped to [-87.3, 88]: no infinities, no denormals.
  (func $vexp (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3))
                             (v128.const f32x4 88 88 88 88)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))))
    (local.set $r (f32x4.sub (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
                             (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.38888889e-3 1.38888889e-3 1.38888889e-3 1.38888889e-3))   ;; 1/720
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.33333333e-3 8.33333333e-3 8.33333333e-3 8.33333333e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.16666667e-2 4.16666667e-2 4.16666667e-2 4.16666667e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 0.166666667 0.166666667 0.166666667 0.166666667)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 0.5 0.5 0.5 0.5)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1 1 1 1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1 1 1 1)))
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))

  ;; the largest of n floats at p (n a multiple of 4, at least 4)
  (func (export "rowmax") (param $p i32) (param $n i32) (result f32)
    (local $m v128) (local $end i32)
    (local.set $m (v128.load (local.get $p)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $m (f32x4.max (local.get $m) (v128.load (local.get $p))))
        (br $next)))
    (f32.max (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
             (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))

  ;; x ← exp(x − shift) for n floats at p (n a multiple of 4); returns their sum
  (func (export "expsum") (param $p i32) (param $n i32) (param $shift f32) (result f32)
    (local $s v128) (local $acc v128) (local $e v128) (local $end i32)
    (local.set $s (f32x4.splat (local.get $shift)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $e (call $vexp (f32x4.sub (v128.load (local.get $p)) (local.get $s))))
        (v128.store (local.get $p) (local.get $e))
        (local.set $acc (f32x4.add (local.get $acc) (local.get $e)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $next)))
    (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
             (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))

  ;; x ← x · k for n floats at p (n a multiple of 4)
  (func (export "scale") (param $p i32) (param $n i32) (param $k f32)
    (local $kv v128) (local $end i32)
    (local.set $kv (f32x4.splat (local.get $k)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (v128.store (local.get $p) (f32x4.mul (v128.load (local.get $p)) (local.get $kv)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $next))))

  ;; gelu_tanh for n floats at x (n a multiple of 4): y = x/2 · (1 + t) and t = tanh(√(2/π)(x + 0.044715x³)),
  ;; with tanh(z) = 1 − 2/(e^{2z} + 1)
  (func (export "gelu") (param $x i32) (param $y i32) (param $t i32) (param $n i32)
    (local $v v128) (local $th v128) (local $end i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $v (v128.load (local.get $x)))
        (local.set $th (f32x4.sub (v128.const f32x4 1 1 1 1)
          (f32x4.div (v128.const f32x4 2 2 2 2)
            (f32x4.add (v128.const f32x4 1 1 1 1)
              (call $vexp (f32x4.mul (v128.const f32x4 1.5957691216 1.5957691216 1.5957691216 1.5957691216)
                (f32x4.add (local.get $v)
                  (f32x4.mul (v128.const f32x4 0.044715 0.044715 0.044715 0.044715)
                    (f32x4.mul (local.get $v) (f32x4.mul (local.get $v) (local.get $v)))))))))))
        (v128.store (local.get $t) (local.get $th))
        (v128.store (local.get $y) (f32x4.mul (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (local.get $v))
                                              (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $th))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (local.set $t (i32.add (local.get $t) (i32.const 16)))
        (br $next)))))
