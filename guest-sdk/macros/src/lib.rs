//! The attribute macros of `sluice-sdk`: `#[map]`, `#[flat_map]`, `#[filter]`,
//! `#[map_partition]` and `#[reduce]`.
//!
//! Each leaves the function exactly as written (so plugin authors test it natively with
//! `cargo test`) and adds, beside it, a wrapper that runs the function over a whole
//! partition through `sluice_sdk::rt`, plus a manifest line in the `sluice_manifest`
//! custom section. The wrapper is type-checked on every target but exported only on wasm.
//! Misuse is a compile error pointing at the offending token, never a panic.

mod signature;

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{format_ident, quote};
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
    Reduce,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Map => "map",
            Kind::FlatMap => "flat_map",
            Kind::Filter => "filter",
            Kind::MapPartition => "map_partition",
            Kind::Reduce => "reduce",
        }
    }

    fn shape(self) -> &'static str {
        match self {
            Kind::Map => "fn(Input) -> Output",
            Kind::FlatMap => "fn(Input) -> impl IntoIterator<Item = Output>",
            Kind::Filter => "fn(&Input) -> bool",
            Kind::MapPartition => "fn(Vec<Input>) -> impl IntoIterator<Item = Output>",
            Kind::Reduce => "fn(V, V) -> V",
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

/// An associative combine, used by `reduce_by_key` and `reduce`: `fn(V, V) -> V`.
#[proc_macro_attribute]
pub fn reduce(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Reduce, attr, item)
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
    if !attr.is_empty() {
        return Err(syn::Error::new_spanned(
            attr,
            format!("`#[{}]` takes no arguments", kind.name()),
        ));
    }
    let function: ItemFn = syn::parse2(item.clone()).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!(
                "`#[{}]` goes on a plain function: {}",
                kind.name(),
                kind.shape()
            ),
        )
    })?;
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

    Ok(quote! {
        #function

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

/// The call into the kind's loop in `sluice_sdk::rt`, with a closure that adapts one
/// decoded record to the function's parameter.
fn loop_call(
    kind: Kind,
    name: &syn::Ident,
    checked: &signature::Checked,
) -> proc_macro2::TokenStream {
    let rt = quote!(::sluice_sdk::rt);
    let decode = &checked.arg.decode;
    let call = match checked.arg.pass {
        Arg::Value => quote!(#name(record)),
        Arg::Borrow => quote!(#name(&record)),
    };
    let fallible = checked.returns == Returns::Result;
    match kind {
        Kind::Map if fallible => {
            quote!(#rt::try_map::<#decode, _, _, _>(input, output, |record| #call))
        }
        Kind::Map => quote!(#rt::map::<#decode, _, _>(input, output, |record| #call)),
        Kind::FlatMap if fallible => {
            quote!(#rt::try_flat_map::<#decode, _, _, _>(input, output, |record| #call))
        }
        Kind::FlatMap => quote!(#rt::flat_map::<#decode, _, _>(input, output, |record| #call)),
        Kind::Filter => quote!(#rt::filter::<#decode, _>(input, output, |record| #call)),
        Kind::MapPartition if fallible => {
            quote!(#rt::try_map_partition::<#decode, _, _, _>(input, output, |record| #call))
        }
        Kind::MapPartition => {
            quote!(#rt::map_partition::<#decode, _, _>(input, output, |record| #call))
        }
        Kind::Reduce => quote!(#rt::reduce::<#decode, _>(input, output, mode, |a, b| #name(a, b))),
    }
}

trait SpannedExt {
    fn error(&self, message: impl std::fmt::Display) -> syn::Error;
}

impl<T: Spanned + quote::ToTokens> SpannedExt for T {
    fn error(&self, message: impl std::fmt::Display) -> syn::Error {
        syn::Error::new_spanned(self, message)
    }
}
