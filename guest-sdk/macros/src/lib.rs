//! The attribute macros of `sluice-sdk`: `#[map]`, `#[flat_map]`, `#[filter]`,
//! `#[map_partition]`, `#[transform]`, `#[reduce]`, `#[inverse_reduce]`, `#[update_state]`
//! and `#[map_with_state]`.
//!
//! Each leaves the function exactly as written (so plugin authors test it natively with
//! `cargo test`) and adds, beside it, a wrapper that runs the function over a whole
//! partition through `sluice_sdk::rt`, plus a manifest line in the `sluice_manifest`
//! custom section. The wrapper is type-checked on every target but exported only on wasm.
//! Misuse is a compile error pointing at the offending token, never a panic.

mod signature;
mod stateful;

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{format_ident, quote, quote_spanned};
use signature::{Arg, Returns};
use syn::{ItemFn, spanned::Spanned};

/// The ABI version the generated manifest lines declare. Must equal
/// `sluice_sdk::wire::ABI_VERSION`; the SDK's tests check that it does.
const ABI_VERSION: u32 = 1;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Map,
    FlatMap,
    Filter,
    MapPartition,
    Transform,
    Reduce,
    InverseReduce,
    UpdateState,
    MapWithState,
    MigrateState,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Map => "map",
            Kind::FlatMap => "flat_map",
            Kind::Filter => "filter",
            Kind::MapPartition => "map_partition",
            Kind::Transform => "transform",
            Kind::Reduce => "reduce",
            Kind::InverseReduce => "inverse_reduce",
            Kind::UpdateState => "update_state",
            Kind::MapWithState => "map_with_state",
            Kind::MigrateState => "migrate_state",
        }
    }

    fn shape(self) -> &'static str {
        match self {
            Kind::Map => "fn(Input) -> Output",
            Kind::FlatMap => "fn(Input) -> impl IntoIterator<Item = Output>",
            Kind::Filter => "fn(&Input) -> bool",
            Kind::MapPartition => "fn(Vec<Input>) -> impl IntoIterator<Item = Output>",
            Kind::Transform => "fn(Vec<Input>, BatchContext) -> impl IntoIterator<Item = Output>",
            Kind::Reduce | Kind::InverseReduce => "fn(V, V) -> V",
            Kind::UpdateState => "fn(&K, Vec<V>, Option<S>) -> Option<S>",
            Kind::MapWithState => "fn(&K, Option<V>, &mut State<S>) -> Output",
            Kind::MigrateState => "fn(OldState) -> NewState",
        }
    }
}

/// One record in, one record out: `fn(Input) -> Output` (or `Result<Output, E>`).
#[proc_macro_attribute]
pub fn map(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Map, attr, item)
}

/// One record in, any number out: `fn(Input) -> impl IntoIterator<Item = Output>`.
#[proc_macro_attribute]
pub fn flat_map(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::FlatMap, attr, item)
}

/// Keep the records for which the function returns `true`: `fn(&Input) -> bool`.
#[proc_macro_attribute]
pub fn filter(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Filter, attr, item)
}

/// A whole partition in, any number of records out:
/// `fn(Vec<Input>) -> impl IntoIterator<Item = Output>`.
#[proc_macro_attribute]
pub fn map_partition(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::MapPartition, attr, item)
}

/// A whole partition and the batch's `BatchContext` (time and partition) in, any number of
/// records out: `fn(Vec<Input>, BatchContext) -> impl IntoIterator<Item = Output>`.
#[proc_macro_attribute]
pub fn transform(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Transform, attr, item)
}

/// An associative combine, used by `reduce_by_key` and `reduce`: `fn(V, V) -> V`.
#[proc_macro_attribute]
pub fn reduce(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Reduce, attr, item)
}

/// The inverse of a `#[reduce]`: `inv(a, b)` takes `b` back out of the combination `a`
/// (for a sum, subtraction), so that a window can drop the batches leaving it:
/// `fn(V, V) -> V`.
#[proc_macro_attribute]
pub fn inverse_reduce(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::InverseReduce, attr, item)
}

/// A key's new state from its values in this batch and its old state, for
/// `update_state_by_key`: `fn(&K, Vec<V>, Option<S>) -> Option<S>`. `None` in means the
/// key has no state yet; `None` out removes the key.
#[proc_macro_attribute]
pub fn update_state(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::UpdateState, attr, item)
}

/// Turns a key's state from an older version's encoding into this version's, once per
/// key when the plugin replaces a running version: `fn(OldState) -> NewState`. States
/// already in the new encoding are left alone, so it is safe to keep in later versions.
#[proc_macro_attribute]
pub fn migrate_state(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::MigrateState, attr, item)
}

/// A record mapped with its key's state, for `map_with_state`:
/// `fn(&K, Option<V>, &mut State<S>) -> Output`, or `-> Option<Output>` to emit only the
/// `Some`s. Called once per value, in order, with the same state; for a key that is timing
/// out, once with `None` and a state that cannot be updated. A key taken by value is
/// cloned for each call.
#[proc_macro_attribute]
pub fn map_with_state(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::MapWithState, attr, item)
}

fn expand(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr);
    let item = proc_macro2::TokenStream::from(item);
    match try_expand(kind, attr, item.clone()) {
        Ok(tokens) => tokens.into(),
        // Keep the function in the output so that one mistake is not followed by a
        // cascade of "cannot find function" errors.
        Err(err) => {
            let err = err.to_compile_error();
            quote!(#item #err).into()
        }
    }
}

fn try_expand(
    kind: Kind,
    attr: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let combine = combine_argument(kind, attr)?;
    let function: ItemFn =
        syn::parse2(item.clone()).map_err(|e| not_a_function(kind, &item, e.span()))?;
    let checked = signature::check(kind, &function.sig)?;
    let name = &function.sig.ident;
    let plain_name = syn::ext::IdentExt::unraw(name).to_string();
    let export = format!("sluice_fn_{plain_name}");
    let manifest = format!(
        "abi{ABI_VERSION}\t{}\t{plain_name}\t{}\n",
        kind.name(),
        signature::tidy(&function.sig)
    );
    let manifest_len = manifest.len();
    let manifest_bytes = syn::LitByteStr::new(manifest.as_bytes(), Span::call_site());
    let body = loop_call(kind, name, &checked);
    let wrapper = format_ident!("__sluice_export_{}", plain_name);
    if let Some(reducer) = &combine
        && checked.returns == Returns::Result
    {
        return Err(syn::Error::new_spanned(
            reducer,
            "`combine` needs a flat_map that returns its pairs, not a `Result`",
        ));
    }
    let combining = combine
        .map(|reducer| combining_export(name, &plain_name, &checked, &reducer, &function.sig))
        .unwrap_or_default();

    Ok(quote! {
        #function
        #combining

        const _: () = {
            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "sluice_manifest")]
            #[used]
            static MANIFEST_ENTRY: [u8; #manifest_len] = *#manifest_bytes;

            #[cfg_attr(target_arch = "wasm32", unsafe(export_name = #export))]
            #[allow(dead_code)]
            extern "C" fn #wrapper(input_len: u32, batch_time_ms: i64, partition: u32, mode: u32) -> u32 {
                let _ = mode;
                ::sluice_sdk::rt::call(input_len, batch_time_ms, partition, |input, output| {
                    #body
                })
            }
        };
    })
}

/// `#[flat_map(combine = f)]`'s `f`: the only argument any attribute takes.
fn combine_argument(kind: Kind, attr: proc_macro2::TokenStream) -> syn::Result<Option<syn::Path>> {
    if attr.is_empty() {
        return Ok(None);
    }
    if kind != Kind::FlatMap {
        return Err(syn::Error::new_spanned(
            attr,
            format!("`#[{0}]` takes no arguments: write `#[{0}]`", kind.name()),
        ));
    }
    let wrong = |at: &dyn quote::ToTokens| {
        syn::Error::new_spanned(
            at,
            "`#[flat_map]` takes one optional argument, `combine = <a #[reduce] function of this plugin>`",
        )
    };
    let meta: syn::MetaNameValue = syn::parse2(attr.clone()).map_err(|_| wrong(&attr))?;
    if !meta.path.is_ident("combine") {
        return Err(wrong(&meta.path));
    }
    match meta.value {
        syn::Expr::Path(path) => Ok(Some(path.path)),
        other => Err(wrong(&other)),
    }
}

/// The second export of `#[flat_map(combine = reducer)]`: the flat_map's pairs folded
/// per key with `reducer` inside the guest, named `<flat_map>:<reducer>`.
fn combining_export(
    name: &syn::Ident,
    plain_name: &str,
    checked: &signature::Checked,
    reducer: &syn::Path,
    sig: &syn::Signature,
) -> proc_macro2::TokenStream {
    let reducer_name = reducer
        .segments
        .last()
        .map(|s| syn::ext::IdentExt::unraw(&s.ident).to_string())
        .unwrap_or_default();
    let export = format!("sluice_fn_{plain_name}:{reducer_name}");
    let manifest = format!(
        "abi{ABI_VERSION}\tflat_map_combine\t{plain_name}:{reducer_name}\t{} combined by {reducer_name}\n",
        signature::tidy(sig)
    );
    let manifest_len = manifest.len();
    let manifest_bytes = syn::LitByteStr::new(manifest.as_bytes(), Span::call_site());
    let wrapper = format_ident!("__sluice_export_{}_combined", plain_name);
    let decode = &checked.arg.decode;
    let call = match checked.arg.pass {
        Arg::Value => quote!(#name(record)),
        Arg::Borrow => quote!(#name(&record)),
    };
    let span = reducer.span();
    let fold = quote_spanned!(span=> #reducer);
    quote! {
        const _: () = {
            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "sluice_manifest")]
            #[used]
            static MANIFEST_ENTRY: [u8; #manifest_len] = *#manifest_bytes;

            #[cfg_attr(target_arch = "wasm32", unsafe(export_name = #export))]
            #[allow(dead_code)]
            extern "C" fn #wrapper(input_len: u32, batch_time_ms: i64, partition: u32, _mode: u32) -> u32 {
                ::sluice_sdk::rt::call(input_len, batch_time_ms, partition, |input, output| {
                    ::sluice_sdk::rt::flat_map_combine::<#decode, _, _, _, _, _>(input, output, |record| #call, #fold)
                })
            }
        };
    }
}

/// The error for an attribute on something that does not parse as a function with a body.
/// `at` is where parsing stopped: the item's keyword (`struct`, `impl`, ...), or the `;`
/// of a function declared without a body.
fn not_a_function(kind: Kind, item: &proc_macro2::TokenStream, at: Span) -> syn::Error {
    let what = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(_)) => ", not on a struct",
        Ok(syn::Item::Enum(_)) => ", not on an enum",
        Ok(syn::Item::Union(_)) => ", not on a union",
        Ok(syn::Item::Trait(_) | syn::Item::TraitAlias(_)) => ", not on a trait",
        Ok(syn::Item::Impl(_)) => ", not on an `impl` block",
        Ok(syn::Item::Mod(_)) => ", not on a module",
        Ok(syn::Item::Const(_)) => ", not on a constant",
        Ok(syn::Item::Static(_)) => ", not on a static",
        Ok(syn::Item::Type(_)) => ", not on a type alias",
        Ok(syn::Item::Use(_)) => ", not on a `use` declaration",
        Ok(syn::Item::Macro(_)) => ", not on a macro invocation",
        _ => " with a body",
    };
    syn::Error::new(
        at,
        format!(
            "`#[{0}]` goes on a function{what}; expected `#[{0}] {1}`",
            kind.name(),
            kind.shape()
        ),
    )
}

/// The call into the kind's loop in `sluice_sdk::rt`, with a closure that adapts one
/// decoded record to the function's parameter.
///
/// The input's type is written out, so an unmet bound on it (`Deserialize`) is reported
/// at the parameter. The output's types are inferred; the call and those `_` are spanned
/// on the return type so that an unmet bound on them (`Serialize`, `IntoIterator`,
/// `Display`) is reported there rather than on the attribute.
fn loop_call(
    kind: Kind,
    name: &syn::Ident,
    checked: &signature::Checked,
) -> proc_macro2::TokenStream {
    let decode = &checked.arg.decode;
    let parts = &checked.parts;
    let span = checked.output_span;
    let out = quote_spanned!(span=> _);
    let call = match checked.arg.pass {
        Arg::Value => quote!(#name(record)),
        Arg::Borrow => quote!(#name(&record)),
    };
    let per_record = quote!(|record| #call);
    let fallible = checked.returns == Returns::Result;
    // The key reaches `#[update_state]` by value and `#[map_with_state]` by reference
    // (once per value), each adapted to the parameter as written.
    let key = match (kind, &checked.arg.pass) {
        (Kind::MapWithState, Arg::Value) => {
            let span = decode.span();
            quote_spanned!(span=> ::core::clone::Clone::clone(key))
        }
        (Kind::MapWithState, Arg::Borrow) | (_, Arg::Value) => quote!(key),
        (_, Arg::Borrow) => quote!(&key),
    };
    let mapped = match checked.returns {
        Returns::Option => quote!(#name(#key, value, state)),
        _ => quote!(::core::option::Option::Some(#name(#key, value, state))),
    };
    let (function, generics, args) = match kind {
        Kind::Map if fallible => ("try_map", quote!(#decode, #out, #out, _), per_record),
        Kind::Map => ("map", quote!(#decode, #out, _), per_record),
        Kind::FlatMap if fallible => ("try_flat_map", quote!(#decode, #out, #out, _), per_record),
        Kind::FlatMap => ("flat_map", quote!(#decode, #out, _), per_record),
        Kind::Filter => ("filter", quote!(#decode, _), per_record),
        Kind::MapPartition if fallible => (
            "try_map_partition",
            quote!(#decode, #out, #out, _),
            per_record,
        ),
        Kind::MapPartition => ("map_partition", quote!(#decode, #out, _), per_record),
        Kind::Transform if fallible => (
            "try_transform",
            quote!(#decode, #out, #out, _),
            quote!(|records, context| #name(records, context)),
        ),
        Kind::Transform => (
            "transform",
            quote!(#decode, #out, _),
            quote!(|records, context| #name(records, context)),
        ),
        Kind::Reduce => (
            "reduce",
            quote!(#decode, _),
            quote!(mode, |a, b| #name(a, b)),
        ),
        Kind::InverseReduce => (
            "inverse_reduce",
            quote!(#decode, _),
            quote!(|a, b| #name(a, b)),
        ),
        Kind::UpdateState => (
            "update_state",
            quote!(#decode, #(#parts,)* _),
            quote!(|key, values, state| #name(#key, values, state)),
        ),
        Kind::MapWithState => (
            "map_with_state",
            quote!(#decode, #(#parts,)* #out, _),
            quote!(|key, value, state| #mapped),
        ),
        Kind::MigrateState => (
            "migrate_state",
            quote!(#decode, #(#parts,)* _),
            quote!(|old| #name(old)),
        ),
    };
    let function = format_ident!("{}", function, span = span);
    quote_spanned!(span=> ::sluice_sdk::rt::#function::<#generics>(input, output, #args))
}

trait SpannedExt {
    fn error(&self, message: impl std::fmt::Display) -> syn::Error;
}

impl<T: Spanned + quote::ToTokens> SpannedExt for T {
    fn error(&self, message: impl std::fmt::Display) -> syn::Error {
        syn::Error::new_spanned(self, message)
    }
}

/// The ABI version the macros write into manifests, as a literal. Not for plugin
/// authors: the SDK's tests compare it with `wire::ABI_VERSION`.
#[doc(hidden)]
#[proc_macro]
pub fn __abi_version(_: TokenStream) -> TokenStream {
    let version = proc_macro2::Literal::u32_unsuffixed(ABI_VERSION);
    quote!(#version).into()
}
