#include "textflag.h"

// func indexESCAVX2(b []byte) int
//
// Returns the index of the first byte 0x1b in b, or -1: 128 bytes per
// iteration with one test for four 32-byte comparisons (bytes.IndexByte
// tests every 32 bytes, which on the build machine is half the speed).
// Requires AVX2.
TEXT ·indexESCAVX2(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), BX
	MOVQ SI, DI
	MOVL $0x1b, AX
	MOVD AX, X0
	VPBROADCASTB X0, Y0
	CMPQ BX, $128
	JB   tail32

loop128:
	VPCMPEQB (SI), Y0, Y1
	VPCMPEQB 32(SI), Y0, Y2
	VPCMPEQB 64(SI), Y0, Y3
	VPCMPEQB 96(SI), Y0, Y4
	VPOR     Y1, Y2, Y5
	VPOR     Y3, Y4, Y6
	VPOR     Y5, Y6, Y7
	VPTEST   Y7, Y7
	JNZ      in128
	ADDQ     $128, SI
	SUBQ     $128, BX
	CMPQ     BX, $128
	JAE      loop128
	JMP      tail32

in128:
	// One of the four 32-byte blocks holds the byte: find the first.
	VPMOVMSKB Y1, DX
	TESTL     DX, DX
	JNZ       found
	ADDQ      $32, SI
	VPMOVMSKB Y2, DX
	TESTL     DX, DX
	JNZ       found
	ADDQ      $32, SI
	VPMOVMSKB Y3, DX
	TESTL     DX, DX
	JNZ       found
	ADDQ      $32, SI
	VPMOVMSKB Y4, DX
	JMP       found

tail32:
	CMPQ      BX, $32
	JB        tailbytes
	VPCMPEQB  (SI), Y0, Y1
	VPMOVMSKB Y1, DX
	TESTL     DX, DX
	JNZ       found
	ADDQ      $32, SI
	SUBQ      $32, BX
	JMP       tail32

tailbytes:
	TESTQ BX, BX
	JZ    notfound
	CMPB  (SI), $0x1b
	JEQ   foundbyte
	INCQ  SI
	DECQ  BX
	JMP   tailbytes

found:
	BSFL DX, DX
	ADDQ DX, SI

foundbyte:
	SUBQ DI, SI
	VZEROUPPER
	MOVQ SI, ret+24(FP)
	RET

notfound:
	VZEROUPPER
	MOVQ $-1, ret+24(FP)
	RET
