// Declarations are in include/CFuzzer.h; the sanitizer hook is weak so the package also links
// without AddressSanitizer (then it reports 0).
#include "CFuzzer.h"

__attribute__((weak)) size_t __sanitizer_get_current_allocated_bytes(void);

size_t fuzz_allocated_bytes(void) {
    return __sanitizer_get_current_allocated_bytes ? __sanitizer_get_current_allocated_bytes() : 0;
}
