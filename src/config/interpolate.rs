//! `${VAR}` and `${VAR:-default}` in pipeline strings; `$$` is a literal `$`.

/// The expanded string, `None` when there was nothing to expand.
pub fn expand(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, String> {
    if !s.contains('$') {
        return Ok(None);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unclosed \"${{\" in {s:?}"))?;
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("bad variable name {name:?} in \"${{{inner}}}\""));
            }
            match (env(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    return Err(format!(
                        "environment variable {name} is not set (write ${{{name}:-default}} for a fallback)"
                    ));
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_defaults_and_escapes() {
        let env = |k: &str| (k == "P").then(|| "prod".to_string());
        assert_eq!(expand("plain", &env), Ok(None));
        assert_eq!(expand("${P}-x", &env), Ok(Some("prod-x".into())));
        assert_eq!(expand("${Q:-dflt}", &env), Ok(Some("dflt".into())));
        assert_eq!(expand("$$5 and $x", &env), Ok(Some("$5 and $x".into())));
        assert!(expand("${Q}", &env).unwrap_err().contains("Q is not set"));
        assert!(expand("${P", &env).is_err());
    }
}
