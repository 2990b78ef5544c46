//! Reading custom sections straight from a module's bytes, so that a plugin's manifest
//! is known without compiling or running it.

/// The concatenated contents of every custom section named `name`, in module order,
/// or `None` if there is none. Errors on bytes that are not a wasm module.
pub fn custom_section(module: &[u8], name: &str) -> Result<Option<Vec<u8>>, String> {
    if module.len() < 8 || &module[..4] != b"\0asm" {
        return Err("not a WebAssembly module (no \\0asm header)".into());
    }
    let mut at = 8;
    let mut found: Option<Vec<u8>> = None;
    while at < module.len() {
        let id = module[at];
        at += 1;
        let size = leb128(module, &mut at)? as usize;
        let end = at
            .checked_add(size)
            .filter(|e| *e <= module.len())
            .ok_or("section runs past the end of the module")?;
        if id == 0 {
            let mut inner = at;
            let name_len = leb128(module, &mut inner)? as usize;
            let name_end = inner
                .checked_add(name_len)
                .filter(|e| *e <= end)
                .ok_or("custom section name runs past its section")?;
            if &module[inner..name_end] == name.as_bytes() {
                found
                    .get_or_insert_with(Vec::new)
                    .extend_from_slice(&module[name_end..end]);
            }
        }
        at = end;
    }
    Ok(found)
}

fn leb128(buf: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..35).step_by(7) {
        let byte = *buf.get(*at).ok_or("truncated section header")?;
        *at += 1;
        value |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("section size too long".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_concatenates_named_sections() {
        let module = wat::parse_str(r#"(module (@custom "sluice_manifest" "a\n") (@custom "other" "x") (@custom "sluice_manifest" "b\n"))"#).unwrap();
        assert_eq!(
            custom_section(&module, "sluice_manifest")
                .unwrap()
                .as_deref(),
            Some(&b"a\nb\n"[..])
        );
        assert_eq!(custom_section(&module, "missing").unwrap(), None);
        assert!(custom_section(b"not wasm at all", "x").is_err());
        assert!(custom_section(&module[..module.len() - 1], "sluice_manifest").is_err());
    }
}
