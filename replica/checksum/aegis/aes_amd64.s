//go:build amd64 && !purego

#include "textflag.h"

// UPDATE is AEGIS-128L's Update(M0, M1) on the state in X0..X7, using X8 and
// X9 as scratch. AESENC K, D computes D = AESRound(D) ^ K, so each new block
// S(i) = AESRound(S(i-1)) ^ S(i) starts as a copy of S(i-1). Going from S7
// down keeps every S(i-1) old when it is read; X8 holds the old S7 for S0.
// M1 and M0 are folded into the round key once S4 and S0 have been read as
// round inputs, which keeps the XOR off the chain from one update to the next.
#define UPDATE(M0, M1) \
	MOVO   X7, X8;  \
	MOVO   X6, X9;  \
	AESENC X7, X9;  \
	MOVO   X9, X7;  \
	MOVO   X5, X9;  \
	AESENC X6, X9;  \
	MOVO   X9, X6;  \
	MOVO   X4, X9;  \
	AESENC X5, X9;  \
	MOVO   X9, X5;  \
	PXOR   M1, X4;  \
	MOVO   X3, X9;  \
	AESENC X4, X9;  \
	MOVO   X9, X4;  \
	MOVO   X2, X9;  \
	AESENC X3, X9;  \
	MOVO   X9, X3;  \
	MOVO   X1, X9;  \
	AESENC X2, X9;  \
	MOVO   X9, X2;  \
	MOVO   X0, X9;  \
	AESENC X1, X9;  \
	MOVO   X9, X1;  \
	PXOR   M0, X0;  \
	AESENC X0, X8;  \
	MOVO   X8, X0

// func absorbAES(s *state, p []byte)
TEXT ·absorbAES(SB), NOSPLIT, $0-32
	MOVQ s+0(FP), DI
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	SHRQ $5, CX
	JZ   done
	MOVOU 0(DI), X0
	MOVOU 16(DI), X1
	MOVOU 32(DI), X2
	MOVOU 48(DI), X3
	MOVOU 64(DI), X4
	MOVOU 80(DI), X5
	MOVOU 96(DI), X6
	MOVOU 112(DI), X7

loop:
	MOVOU 0(SI), X10
	MOVOU 16(SI), X11
	UPDATE(X10, X11)
	ADDQ $32, SI
	DECQ CX
	JNZ  loop

	MOVOU X0, 0(DI)
	MOVOU X1, 16(DI)
	MOVOU X2, 32(DI)
	MOVOU X3, 48(DI)
	MOVOU X4, 64(DI)
	MOVOU X5, 80(DI)
	MOVOU X6, 96(DI)
	MOVOU X7, 112(DI)

done:
	RET

// func sumAES(s *state, full []byte, last *[BlockSize]byte, adBits uint64, tag *[TagSize]byte)
//
// One call for a whole checksum, so that a header's state never leaves the
// registers; *s is only read.
TEXT ·sumAES(SB), NOSPLIT, $0-56
	MOVQ s+0(FP), DI
	MOVQ full_base+8(FP), SI
	MOVQ full_len+16(FP), CX
	MOVQ last+32(FP), BX
	MOVQ adBits+40(FP), AX
	MOVQ tag+48(FP), DX
	MOVOU 0(DI), X0
	MOVOU 16(DI), X1
	MOVOU 32(DI), X2
	MOVOU 48(DI), X3
	MOVOU 64(DI), X4
	MOVOU 80(DI), X5
	MOVOU 96(DI), X6
	MOVOU 112(DI), X7
	SHRQ $5, CX
	JZ   tail

blocks:
	MOVOU 0(SI), X10
	MOVOU 16(SI), X11
	UPDATE(X10, X11)
	ADDQ $32, SI
	DECQ CX
	JNZ  blocks

tail:
	TESTQ BX, BX
	JZ    final
	MOVOU 0(BX), X10
	MOVOU 16(BX), X11
	UPDATE(X10, X11)

final:
	// t = S2 ^ (LE64(adBits) || LE64(0)); MOVQ zeroes the high half.
	MOVQ AX, X10
	PXOR X2, X10
	MOVQ $7, CX

rounds:
	UPDATE(X10, X10)
	DECQ CX
	JNZ  rounds

	PXOR  X1, X0
	PXOR  X2, X0
	PXOR  X3, X0
	PXOR  X4, X0
	PXOR  X5, X0
	PXOR  X6, X0
	MOVOU X0, 0(DX)
	RET
