//! Reads a trait under `#[tars_interface]`: its arguments, methods, parameters and `#[tars]`
//! method attributes. Checks syntax only; `model::interface` checks meaning.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{FnArg, ItemTrait, LitStr, Pat, Path, TraitItem, TraitItemFn, Type};

use super::derive::Errors;

/// The attribute's own arguments: `#[tars_interface(crate = "path")]`.
#[derive(Default)]
pub struct InterfaceArgs {
    pub krate: Option<Path>,
}

pub fn parse_args(args: TokenStream, macro_name: &str) -> syn::Result<InterfaceArgs> {
    let mut parsed = InterfaceArgs::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            let path: LitStr = meta.value()?.parse()?;
            parsed.krate = Some(path.parse()?);
            Ok(())
        } else {
            Err(meta.error(format!(
                "unknown argument; the one accepted is `#[{macro_name}(crate = \"path::to::tars_rpc\")]`"
            )))
        }
    });
    parser.parse2(args)?;
    Ok(parsed)
}

/// A parameter as written: its name, type, span and `#[tars(name = "...")]`.
pub struct ParsedParam {
    pub ident: syn::Ident,
    pub ty: Type,
    pub span: Span,
    pub wire_name: Option<LitStr>,
}

pub struct ParsedMethod {
    /// The method as written, `#[tars]` attributes removed.
    pub item: TraitItemFn,
    /// `#[tars(name = "...")]`.
    pub wire_name: Option<LitStr>,
    /// `#[tars(on_close)]`: not a wire method but the servant's connection-closed hook.
    pub on_close: Option<Span>,
    pub params: Vec<ParsedParam>,
}

pub struct ParsedTrait {
    /// The trait as written, `#[tars]` attributes removed from its methods.
    pub item: ItemTrait,
    pub methods: Vec<ParsedMethod>,
}

pub fn parse_trait(mut item: ItemTrait) -> syn::Result<ParsedTrait> {
    let mut errors = Errors::default();
    let mut methods = Vec::new();
    for trait_item in &mut item.items {
        let TraitItem::Fn(method) = trait_item else {
            errors.push(syn::Error::new(
                trait_item.span(),
                "a TARS interface holds only methods; move this item out of the trait",
            ));
            continue;
        };
        let MethodAttrs {
            wire_name,
            on_close,
        } = take_method_attrs(method, &mut errors);
        let mut params = Vec::new();
        for input in &mut method.sig.inputs {
            let FnArg::Typed(typed) = input else { continue };
            let wire_name = take_param_attrs(&mut typed.attrs, &mut errors);
            match &*typed.pat {
                Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => params.push(ParsedParam {
                    ident: pat.ident.clone(),
                    ty: (*typed.ty).clone(),
                    span: typed.span(),
                    wire_name,
                }),
                other => errors.push(syn::Error::new(
                    other.span(),
                    "name the parameter with a plain identifier, e.g. `s_req: String`; its wire name is made from it",
                )),
            }
        }
        methods.push(ParsedMethod {
            item: method.clone(),
            wire_name,
            on_close,
            params,
        });
    }
    errors.finish(ParsedTrait { item, methods })
}

struct MethodAttrs {
    wire_name: Option<LitStr>,
    on_close: Option<Span>,
}

/// Removes `#[tars(...)]` from a method (it is not a real attribute) and returns what it said.
fn take_method_attrs(method: &mut TraitItemFn, errors: &mut Errors) -> MethodAttrs {
    let mut wire_name = None;
    let mut on_close = None;
    let mut result = Ok(());
    method.attrs.retain(|attr| {
        if !attr.path().is_ident("tars") {
            return true;
        }
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                wire_name = Some(meta.value()?.parse::<LitStr>()?);
                Ok(())
            } else if meta.path.is_ident("on_close") {
                on_close = Some(meta.path.span());
                Ok(())
            } else {
                Err(meta.error(
                    "unknown method attribute; write `#[tars(name = \"wireName\")]`, or `#[tars(on_close)]` on the hook run when a client's connection closes",
                ))
            }
        });
        if let Err(error) = parsed {
            result = Err(error);
        }
        false
    });
    if let Err(error) = result {
        errors.push(error);
    }
    MethodAttrs {
        wire_name,
        on_close,
    }
}

/// Removes `#[tars(...)]` from a parameter and returns its `name = "..."`.
fn take_param_attrs(attrs: &mut Vec<syn::Attribute>, errors: &mut Errors) -> Option<LitStr> {
    let mut wire_name = None;
    attrs.retain(|attr| {
        if !attr.path().is_ident("tars") {
            return true;
        }
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                wire_name = Some(meta.value()?.parse::<LitStr>()?);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown parameter attribute; the one accepted is `#[tars(name = \"wireName\")]`",
                ))
            }
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
        false
    });
    wire_name
}
