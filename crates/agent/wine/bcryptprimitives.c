/* Test support only: Wine 8.0 (Debian 12) lacks bcryptprimitives.dll, whose ProcessPrng Rust's
 * standard library calls for randomness on Windows. This stand-in forwards to BCryptGenRandom,
 * which Wine has. It is copied next to the test executables, never shipped with the agent. */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    return BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG));
}
