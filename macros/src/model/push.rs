//! Checks a parsed `#[tars_push]` trait and describes what to generate: per method, its wire
//! name, the variant of the event enum, and the struct of the push's `sBuffer`.

use std::collections::BTreeMap;

use quote::format_ident;
use syn::spanned::Spanned;
use syn::{Ident, ItemTrait, Member, Path, ReturnType, Type};

use super::derive::{unsupported_type, FieldModel, Presence, StructModel};
use super::interface::{check_method_shape, lower_camel_case, upper_camel_case, MethodRole};
use crate::parse::derive::Errors;
use crate::parse::interface::{InterfaceArgs, ParsedMethod, ParsedTrait};

/// The name that marks the return value among a push method's parameters.
pub const RETURN_PARAM: &str = "ret";

pub struct PushParam {
    pub ident: Ident,
    pub ty: Type,
}

pub struct PushMethodModel {
    pub ident: Ident,
    pub wire_name: String,
    /// The variant of `{Trait}Event`.
    pub variant: Ident,
    /// In order: `ret` (tag 0) if present, then the out-parameters (tags 1, 2, ...).
    pub params: Vec<PushParam>,
    pub docs: Vec<syn::Attribute>,
    /// The push's `sBuffer`.
    pub body: StructModel,
}

pub struct PushModel {
    pub item: ItemTrait,
    pub krate: Path,
    pub methods: Vec<PushMethodModel>,
    pub sender_ident: Ident,
    pub event_ident: Ident,
    pub callback_ident: Ident,
}

impl PushModel {
    pub fn build(args: InterfaceArgs, parsed: ParsedTrait) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let item = parsed.item;
        if !item.generics.params.is_empty() {
            errors.push(syn::Error::new(
                item.generics.span(),
                "a TARS push interface cannot be generic; remove the type parameters",
            ));
        }
        let krate = args.krate.unwrap_or_else(|| syn::parse_quote!(::tars_rpc));
        let mut methods = Vec::new();
        let mut wire_names: BTreeMap<String, Ident> = BTreeMap::new();
        for method in parsed.methods {
            let Some(model) = PushMethodModel::build(&item.ident, &krate, method, &mut errors)
            else {
                continue;
            };
            if let Some(other) = wire_names.insert(model.wire_name.clone(), model.ident.clone()) {
                errors.push(syn::Error::new(
                    model.ident.span(),
                    format!(
                        "`{}` has the wire name `{}` of `{other}`; give one of them another with `#[tars(name = \"...\")]`",
                        model.ident, model.wire_name
                    ),
                ));
            }
            methods.push(model);
        }
        let name = &item.ident;
        errors.finish(Self {
            sender_ident: format_ident!("{name}Sender"),
            event_ident: format_ident!("{name}Event"),
            callback_ident: format_ident!("{name}Callback"),
            item,
            krate,
            methods,
        })
    }
}

impl PushMethodModel {
    fn build(
        trait_ident: &Ident,
        krate: &Path,
        parsed: ParsedMethod,
        errors: &mut Errors,
    ) -> Option<Self> {
        let sig = &parsed.item.sig;
        let ident = sig.ident.clone();
        let before = errors.count();
        if let Some(span) = parsed.on_close {
            errors.push(syn::Error::new(
                span,
                "`#[tars(on_close)]` belongs on a `#[tars_interface]` trait, not a push interface",
            ));
        }
        check_method_shape(
            trait_ident,
            &parsed,
            &MethodRole {
                plural: "push callbacks",
                declares: "the pushes",
                implementor: "YourCallback",
                singular: "a push callback",
            },
            errors,
        );
        match &sig.output {
            ReturnType::Default => {}
            ReturnType::Type(_, ty) if matches!(&**ty, Type::Tuple(tuple) if tuple.elems.is_empty()) => {}
            ReturnType::Type(_, ty) => errors.push(syn::Error::new(
                ty.span(),
                "a push callback returns nothing: the pushed return value is its first parameter, named `ret`",
            )),
        }
        let mut params = Vec::new();
        for (index, param) in parsed.params.iter().enumerate() {
            if let Type::Reference(reference) = &param.ty {
                let elem = &reference.elem;
                errors.push(syn::Error::new(
                    param.ty.span(),
                    format!(
                        "a push callback receives its values by value: write `{}: {}`",
                        param.ident,
                        quote::quote!(#elem).to_string().replace(' ', "")
                    ),
                ));
                continue;
            }
            if param.ident == RETURN_PARAM && index != 0 {
                errors.push(syn::Error::new(
                    param.ident.span(),
                    "the pushed return value `ret` (tag 0) must be the first parameter",
                ));
            }
            if let Some(error) = unsupported_type(&param.ty) {
                errors.push(error);
            }
            params.push(PushParam {
                ident: param.ident.clone(),
                ty: param.ty.clone(),
            });
        }
        if params.len() > 255 {
            errors.push(syn::Error::new(
                sig.inputs.span(),
                "a TARS method has at most 255 parameters",
            ));
        }
        if errors.count() > before {
            return None;
        }
        let has_ret = params
            .first()
            .is_some_and(|param| param.ident == RETURN_PARAM);
        let first_tag = if has_ret { 0u8 } else { 1 };
        let fields = (first_tag..)
            .zip(&params)
            .map(|(tag, param)| FieldModel {
                member: Member::Named(param.ident.clone()),
                name: param.ident.to_string(),
                ty: param.ty.clone(),
                tag,
                // TarsCpp writes every value of a push, defaults included
                presence: Presence::AlwaysWritten,
            })
            .collect();
        let method_camel = upper_camel_case(&ident.to_string());
        let wire_name = match &parsed.wire_name {
            Some(name) => name.value(),
            None => lower_camel_case(&ident.to_string()),
        };
        Some(Self {
            body: StructModel {
                ident: format_ident!("__Tars{}{}Push", trait_ident, method_camel),
                generics: syn::Generics::default(),
                krate: krate.clone(),
                fields,
            },
            variant: format_ident!("{}", method_camel),
            docs: parsed
                .item
                .attrs
                .iter()
                .filter(|attr| attr.path().is_ident("doc"))
                .cloned()
                .collect(),
            ident,
            wire_name,
            params,
        })
    }
}
