#ifndef CFUZZER_H
#define CFUZZER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer): runs the fuzzer on the
/// command line's options, calling `callback` with every input.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

/// Bytes the program has allocated and not freed (AddressSanitizer's allocator statistics; 0
/// without ASan). The pipeline targets use it to bound what one input can make the server hold.
size_t fuzz_allocated_bytes(void);

#endif
