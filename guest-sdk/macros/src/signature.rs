//! Checking a function's signature against its kind, and working out how to decode
//! its input. Every rejection names the token at fault and the shape that was expected.

use crate::{Kind, SpannedExt};
use syn::visit_mut::VisitMut;
use syn::{FnArg, GenericParam, PathArguments, ReturnType, Signature, Type};

/// How a decoded record reaches the function's parameter.
pub enum Arg {
    /// By value (also `&str` and `&[u8]`, which decode borrowed from the input).
    Value,
    /// Decoded as an owned value, then passed by reference.
    Borrow,
}

/// What the input parameter decodes as, and how it is passed.
pub struct Input {
    pub decode: Type,
    pub pass: Arg,
}

#[derive(PartialEq, Eq)]
pub enum Returns {
    Plain,
    Result,
}

pub struct Checked {
    pub arg: Input,
    pub returns: Returns,
}

pub fn check(kind: Kind, sig: &Signature) -> syn::Result<Checked> {
    let expected = || format!("expected `#[{}] {}`", kind.name(), kind.shape());
    if let Some(asyncness) = &sig.asyncness {
        return Err(asyncness.error(format!("a plugin function cannot be async; {}", expected())));
    }
    if let Some(abi) = &sig.abi {
        return Err(abi.error("a plugin function is a plain Rust function: remove the `extern`"));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(variadic.error(expected()));
    }
    if let Some(param) = sig
        .generics
        .params
        .iter()
        .find(|p| !matches!(p, GenericParam::Lifetime(_)))
    {
        return Err(param.error(format!(
            "a plugin function cannot be generic: the host calls one concrete function; {}",
            expected()
        )));
    }
    let types = sig
        .inputs
        .iter()
        .map(|input| match input {
            FnArg::Receiver(receiver) => Err(receiver.error(format!(
                "a plugin function is a free function, not a method; {}",
                expected()
            ))),
            FnArg::Typed(typed) => Ok(&*typed.ty),
        })
        .collect::<syn::Result<Vec<_>>>()?;
    let wanted = if kind == Kind::Reduce { 2 } else { 1 };
    if types.len() != wanted {
        let what = if kind == Kind::Reduce {
            "two values to combine"
        } else {
            "one parameter"
        };
        let at: &dyn quote::ToTokens = if sig.inputs.is_empty() {
            &sig.ident
        } else {
            &sig.inputs
        };
        return Err(syn::Error::new_spanned(
            at,
            format!(
                "`#[{}]` takes {what}, found {}; {}",
                kind.name(),
                types.len(),
                expected()
            ),
        ));
    }
    let output = match &sig.output {
        ReturnType::Type(_, ty) => &**ty,
        ReturnType::Default => {
            return Err(sig.ident.error(format!(
                "`#[{}]` function must return a value; {}",
                kind.name(),
                expected()
            )));
        }
    };
    let returns = if last_segment_is(output, "Result") {
        Returns::Result
    } else {
        Returns::Plain
    };
    let arg = match kind {
        Kind::Map | Kind::FlatMap => record_input(types[0])?,
        Kind::Filter => {
            if !is_bool(output) {
                return Err(output.error(format!("`#[filter]` must return `bool`; {}", expected())));
            }
            record_input(types[0])?
        }
        Kind::MapPartition => partition_input(types[0], &expected())?,
        Kind::Reduce => {
            for ty in &types {
                if let Type::Reference(reference) = ty {
                    return Err(reference.error(format!(
                        "`#[reduce]` takes both values by value; {}",
                        expected()
                    )));
                }
            }
            let first = tokens(types[0]);
            if tokens(types[1]) != first {
                return Err(types[1].error(format!(
                    "`#[reduce]` combines two values of the same type, but this is not `{first}`; {}",
                    expected()
                )));
            }
            if tokens(output) != first {
                return Err(output.error(format!(
                    "`#[reduce]` returns the type it combines, `{first}`; {}",
                    expected()
                )));
            }
            Input {
                decode: without_lifetimes(types[0]),
                pass: Arg::Value,
            }
        }
    };
    let returns = if kind == Kind::Filter || kind == Kind::Reduce {
        Returns::Plain
    } else {
        returns
    };
    Ok(Checked { arg, returns })
}

fn record_input(ty: &Type) -> syn::Result<Input> {
    match ty {
        Type::Reference(reference) if reference.mutability.is_some() => {
            Err(reference.error("a record is passed by value or by shared reference, not `&mut`"))
        }
        Type::Reference(reference) if decodes_borrowed(&reference.elem) => Ok(Input {
            decode: without_lifetimes(ty),
            pass: Arg::Value,
        }),
        Type::Reference(reference) => Ok(Input {
            decode: without_lifetimes(&reference.elem),
            pass: Arg::Borrow,
        }),
        _ => Ok(Input {
            decode: without_lifetimes(ty),
            pass: Arg::Value,
        }),
    }
}

fn partition_input(ty: &Type, expected: &str) -> syn::Result<Input> {
    let item = match ty {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().and_then(|last| {
                match (&last.arguments, last.ident == "Vec") {
                    (PathArguments::AngleBracketed(args), true) if args.args.len() == 1 => {
                        match args.args.first() {
                            Some(syn::GenericArgument::Type(item)) => Some(item),
                            _ => None,
                        }
                    }
                    _ => None,
                }
            })
        }
        _ => None,
    };
    let item = item.ok_or_else(|| {
        ty.error(format!(
            "`#[map_partition]` takes the partition as a `Vec`; {expected}"
        ))
    })?;
    Ok(Input {
        decode: without_lifetimes(item),
        pass: Arg::Value,
    })
}

/// `str` and `[u8]` decode borrowed from the input buffer; anything else behind a
/// reference is decoded owned and then lent to the function.
fn decodes_borrowed(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path.path.is_ident("str"),
        Type::Slice(slice) => matches!(&*slice.elem, Type::Path(p) if p.path.is_ident("u8")),
        _ => false,
    }
}

fn last_segment_is(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Path(path) if path.path.segments.last().is_some_and(|s| s.ident == name))
}

fn is_bool(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.path.is_ident("bool"))
}

fn tokens(ty: &Type) -> String {
    quote::quote!(#ty).to_string()
}

/// The type with every named lifetime replaced by `'_`, so that it can be written in
/// the wrapper, where the function's lifetime parameters are not in scope.
fn without_lifetimes(ty: &Type) -> Type {
    struct Elide;
    impl VisitMut for Elide {
        fn visit_lifetime_mut(&mut self, lifetime: &mut syn::Lifetime) {
            if lifetime.ident != "static" {
                *lifetime = syn::Lifetime::new("'_", lifetime.span());
            }
        }
    }
    let mut ty = ty.clone();
    Elide.visit_type_mut(&mut ty);
    ty
}

/// The signature as a person would write it, for the manifest: the token stream's
/// spacing around punctuation removed (the manifest format forbids tabs and newlines,
/// and a token stream's text has neither).
pub fn tidy(sig: &Signature) -> String {
    let mut text = quote::quote!(#sig).to_string();
    for (from, to) in [
        (" , ", ", "),
        ("( ", "("),
        (" )", ")"),
        (" (", "("),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        ("& ", "&"),
        (" :: ", "::"),
        (" : ", ": "),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
    ] {
        text = text.replace(from, to);
    }
    text.replace("->(", "-> (")
}
