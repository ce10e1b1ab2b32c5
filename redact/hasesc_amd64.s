#include "textflag.h"

// func hasESCAVX2(b []byte) bool
//
// Reports whether b holds the byte 0x1b, 128 bytes per iteration with one
// test for four 32-byte comparisons (bytes.IndexByte tests every 32 bytes,
// which on the build machine is half the speed). Requires AVX2.
TEXT ·hasESCAVX2(SB), NOSPLIT, $0-25
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), BX
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
	JNZ      found
	ADDQ     $128, SI
	SUBQ     $128, BX
	CMPQ     BX, $128
	JAE      loop128

tail32:
	CMPQ     BX, $32
	JB       tailbytes
	VPCMPEQB (SI), Y0, Y1
	VPTEST   Y1, Y1
	JNZ      found
	ADDQ     $32, SI
	SUBQ     $32, BX
	JMP      tail32

tailbytes:
	TESTQ BX, BX
	JZ    notfound
	CMPB  (SI), $0x1b
	JEQ   found
	INCQ  SI
	DECQ  BX
	JMP   tailbytes

found:
	VZEROUPPER
	MOVB $1, ret+24(FP)
	RET

notfound:
	VZEROUPPER
	MOVB $0, ret+24(FP)
	RET
