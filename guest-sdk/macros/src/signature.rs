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
    /// `Option<_>`, for `#[map_with_state]`, whose `None`s are not emitted.
    Option,
}

pub struct Checked {
    /// The first parameter: the record, the partition's records or the key.
    pub arg: Input,
    /// What the parameters after a key decode as: `#[update_state]`'s values and state,
    /// `#[map_with_state]`'s value and state.
    pub parts: Vec<Type>,
    pub returns: Returns,
    /// The return type's span, for the generated code's inferred output type, so that a
    /// return type lacking `Serialize`, `IntoIterator` or `Display` is reported there.
    pub output_span: proc_macro2::Span,
}

pub fn check(kind: Kind, sig: &Signature) -> syn::Result<Checked> {
    let expected = || format!("expected `#[{}] {}`", kind.name(), kind.shape());
    if let Some(asyncness) = &sig.asyncness {
        return Err(asyncness.error(format!("a plugin function cannot be async; {}", expected())));
    }
    if let Some(unsafety) = &sig.unsafety {
        return Err(unsafety.error(format!(
            "a plugin function cannot be `unsafe`: the generated code calls it without an `unsafe` block; {}",
            expected()
        )));
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
    let (wanted, what) = match kind {
        Kind::Reduce => (2, "two values to combine"),
        Kind::InverseReduce => (
            2,
            "two values (a combination and a value to take out of it)",
        ),
        Kind::Transform => (2, "two parameters (the partition and its `BatchContext`)"),
        Kind::UpdateState => (3, "three parameters (the key, its values and its state)"),
        Kind::MapWithState => (3, "three parameters (the key, a value and the key's state)"),
        Kind::MigrateState => (1, "one parameter (a state in the old encoding)"),
        Kind::Map | Kind::FlatMap | Kind::Filter | Kind::MapPartition => (1, "one parameter"),
    };
    if types.len() != wanted {
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
    let mut parts = Vec::new();
    let arg = match kind {
        Kind::Map | Kind::FlatMap => record_input(kind, types[0], "record", &expected())?,
        Kind::Filter => {
            if !is_bool(output) {
                return Err(output.error(format!("`#[filter]` must return `bool`; {}", expected())));
            }
            record_input(kind, types[0], "record", &expected())?
        }
        Kind::MapPartition => partition_input(kind, types[0], &expected())?,
        Kind::Transform => {
            if !last_segment_is(types[1], "BatchContext") {
                return Err(types[1].error(format!(
                    "`#[transform]` takes the batch context as `BatchContext`, by value; {}",
                    expected()
                )));
            }
            partition_input(kind, types[0], &expected())?
        }
        Kind::Reduce | Kind::InverseReduce => {
            let name = kind.name();
            for ty in &types {
                if let Type::Reference(reference) = ty {
                    return Err(reference.error(format!(
                        "`#[{name}]` takes both values by value, not by reference; {}",
                        expected()
                    )));
                }
            }
            let first = spaced(types[0]);
            if spaced(types[1]) != first {
                return Err(types[1].error(format!(
                    "`#[{name}]` combines two values of the same type, but this is not `{first}`; {}",
                    expected()
                )));
            }
            if spaced(output) != first {
                return Err(output.error(format!(
                    "`#[{name}]` returns the type it combines, `{first}`; {}",
                    expected()
                )));
            }
            no_static_borrow(types[0], &expected())?;
            Input {
                decode: without_lifetimes(types[0]),
                pass: Arg::Value,
            }
        }
        Kind::UpdateState | Kind::MapWithState => {
            let keyed = crate::stateful::check(kind, &types, output, &expected())?;
            parts = keyed.parts;
            keyed.key
        }
        Kind::MigrateState => {
            if let Type::Reference(reference) = types[0] {
                return Err(reference.error(format!(
                    "`#[migrate_state]` takes the old state by value; {}",
                    expected()
                )));
            }
            no_static_borrow(types[0], &expected())?;
            no_static_borrow(output, &expected())?;
            parts = vec![without_lifetimes(output)];
            Input {
                decode: without_lifetimes(types[0]),
                pass: Arg::Value,
            }
        }
    };
    let returns = match kind {
        Kind::Map | Kind::FlatMap | Kind::MapPartition | Kind::Transform => returns,
        Kind::MapWithState if last_segment_is(output, "Option") => Returns::Option,
        _ => Returns::Plain,
    };
    Ok(Checked {
        arg,
        parts,
        returns,
        output_span: syn::spanned::Spanned::span(output),
    })
}

/// A record (or key) parameter: `&str` and `&[u8]` decode borrowed, `&T` decodes a `T`
/// and lends it, anything else decodes by value. `what` names it in the error.
pub fn record_input(kind: Kind, ty: &Type, what: &str, expected: &str) -> syn::Result<Input> {
    no_static_borrow(ty, expected)?;
    match ty {
        Type::Reference(reference) if reference.mutability.is_some() => Err(reference.error(format!(
            "`#[{}]` takes its {what} by value or by shared reference, not by `&mut`; {expected}",
            kind.name()
        ))),
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

fn partition_input(kind: Kind, ty: &Type, expected: &str) -> syn::Result<Input> {
    let item = type_argument(ty, "Vec").ok_or_else(|| {
        ty.error(format!(
            "`#[{}]` takes the partition as a `Vec`; {expected}",
            kind.name()
        ))
    })?;
    no_static_borrow(item, expected)?;
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

/// `T` if `ty` is `name<T>` (by its path's last segment, so `std::vec::Vec<T>` too).
pub fn type_argument<'t>(ty: &'t Type, name: &str) -> Option<&'t Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last().filter(|_| path.qself.is_none())?;
    match &last.arguments {
        PathArguments::AngleBracketed(args) if last.ident == name && args.args.len() == 1 => {
            match args.args.first() {
                Some(syn::GenericArgument::Type(item)) => Some(item),
                _ => None,
            }
        }
        _ => None,
    }
}

pub fn last_segment_is(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Path(path) if path.path.segments.last().is_some_and(|s| s.ident == name))
}

fn is_bool(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.path.is_ident("bool"))
}

/// Records borrow from the call's input buffer, which lives only as long as the call: a
/// `'static` anywhere in the parameter's type (`&'static str`, `Line<'static>`) cannot be
/// satisfied, and rustc would report it as a lifetime error inside the generated code.
pub fn no_static_borrow(ty: &Type, expected: &str) -> syn::Result<()> {
    struct Find(Option<syn::Lifetime>);
    impl VisitMut for Find {
        fn visit_lifetime_mut(&mut self, lifetime: &mut syn::Lifetime) {
            if lifetime.ident == "static" && self.0.is_none() {
                self.0 = Some(lifetime.clone());
            }
        }
    }
    let mut find = Find(None);
    find.visit_type_mut(&mut ty.clone());
    match find.0 {
        Some(lifetime) => Err(lifetime.error(format!(
            "a record borrows from the call's input, which does not live for `'static`: \
             leave the lifetime out or name one; {expected}"
        ))),
        None => Ok(()),
    }
}

/// The type with every named lifetime replaced by `'_`, so that it can be written in
/// the wrapper, where the function's lifetime parameters are not in scope.
pub fn without_lifetimes(ty: &Type) -> Type {
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

/// The signature as a person would write it, for the manifest. The manifest format forbids
/// tabs and newlines, and a token stream's text may contain both (rustc wraps long
/// lines), so whitespace is collapsed first. The parameter list's parenthesis is placed
/// by hand, so no rule has to remove a space before `(`; one that did would also glue
/// `Item = (` and `x: (` together.
pub fn tidy(sig: &Signature) -> String {
    let Signature {
        constness,
        ident,
        generics,
        inputs,
        output,
        ..
    } = sig;
    let where_clause = &generics.where_clause;
    let head = spaced(quote::quote!(#constness fn #ident #generics));
    // rustfmt leaves a trailing comma after the last parameter of a wrapped list.
    let params = spaced(inputs);
    let params = params.trim_end_matches([',', ' ']);
    let tail = spaced(quote::quote!(#output #where_clause));
    format!("{head}({params}) {tail}").trim_end().to_string()
}

/// Tokens as text with single spaces, and none where a person would write none.
pub fn spaced(tokens: impl quote::ToTokens) -> String {
    let text = tokens.to_token_stream().to_string();
    let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for (from, to) in [
        (" , ", ", "),
        ("( ", "("),
        (" )", ")"),
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
    text
}
