//! The one source of randomness: the operating system's CSPRNG (`getrandom`).

/// Fills `buf` from the OS random number generator.
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    getrandom::fill(buf)
}

/// `N` random bytes.
pub(crate) fn bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut buf = [0u8; N];
    fill(&mut buf)?;
    Ok(buf)
}
