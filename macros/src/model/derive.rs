//! Checks a parsed derive input against TARS's rules and describes what to generate.

use std::collections::BTreeMap;

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{
    Expr, ExprLit, ExprUnary, GenericArgument, Generics, Ident, Lit, Member, Path, PathArguments,
    Type, UnOp,
};

use crate::model::function::lower_camel_case;
use crate::parse::derive::{Errors, FieldAttrs, ParsedEnum, ParsedField, ParsedStruct};

/// How a field behaves when absent on the wire and whether it is always written.
pub enum Presence {
    /// Always written; absent on the wire is an error.
    Required,
    /// Written unless it holds its type's default value; absent reads as `Default::default()`.
    Optional,
    /// Written unless it equals the declared default; absent reads as that default.
    OptionalWithDefault(Expr),
}

pub struct FieldModel {
    pub member: Member,
    /// The field's name in error messages.
    pub name: String,
    /// The field's name in JSON: `#[tars(name = "...")]`, or the Rust name in lowerCamelCase.
    pub wire_name: String,
    pub ty: Type,
    pub tag: u8,
    pub presence: Presence,
}

pub struct StructModel {
    pub ident: Ident,
    /// The TARS type name: `#[tars(name = "Module.Struct")]`, or the Rust name.
    pub tars_name: String,
    pub generics: Generics,
    pub krate: Path,
    /// Sorted by tag: TARS writes fields in ascending tag order.
    pub fields: Vec<FieldModel>,
    /// The struct has a lifetime parameter: a view of its input, with no JSON form or type name
    /// (`TarsStructRef`).
    pub borrowing: bool,
}

pub struct VariantModel {
    pub ident: Ident,
    pub value: i32,
}

pub struct EnumModel {
    pub ident: Ident,
    pub generics: Generics,
    pub krate: Path,
    pub variants: Vec<VariantModel>,
}

fn default_krate(krate: Option<Path>) -> Path {
    krate.unwrap_or_else(|| syn::parse_quote!(::tars_rpc))
}

impl StructModel {
    pub fn build(parsed: ParsedStruct<'_>) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let mut seen: BTreeMap<u8, String> = BTreeMap::new();
        let mut fields = Vec::new();
        let mut wire_names: BTreeMap<String, String> = BTreeMap::new();
        let borrowing = parsed.input.generics.lifetimes().next().is_some();
        if borrowing {
            // a view has no JSON form and no TUP type name of its own: what would name them is
            // an error rather than silently unused
            let names = (parsed.container.name.iter()).chain(
                parsed
                    .fields
                    .iter()
                    .filter_map(|field| field.attrs.name.as_ref()),
            );
            for name in names {
                errors.push(syn::Error::new(
                    name.span(),
                    "a struct with a lifetime is a borrowed view, with no JSON form or TUP type name; put `name` on the owned struct",
                ));
            }
        }
        for parsed_field in &parsed.fields {
            let Some(field) = FieldModel::build(parsed_field, borrowing, &mut seen, &mut errors)
            else {
                continue;
            };
            let clash = (!borrowing)
                .then(|| wire_names.insert(field.wire_name.clone(), field.name.clone()))
                .flatten();
            if let Some(other) = clash {
                let span = (parsed_field.attrs.name.as_ref())
                    .map_or_else(|| parsed_field.field.span(), |name| name.span());
                errors.push(syn::Error::new(
                    span,
                    format!(
                        "field `{}` has the JSON name `{}` of field `{other}`; give one of them another with `#[tars(name = \"...\")]`",
                        field.name, field.wire_name
                    ),
                ));
            }
            fields.push(field);
        }
        fields.sort_by_key(|field| field.tag);
        let tars_name = match &parsed.container.name {
            Some(name) => name.value(),
            None => parsed
                .input
                .ident
                .to_string()
                .trim_start_matches("r#")
                .to_string(),
        };
        errors.finish(StructModel {
            tars_name,
            ident: parsed.input.ident.clone(),
            generics: parsed.input.generics.clone(),
            krate: default_krate(parsed.container.krate),
            fields,
            borrowing,
        })
    }
}

impl FieldModel {
    /// A field with its tag (not in `seen`, which it joins) and its presence.
    fn build(
        parsed_field: &ParsedField<'_>,
        borrowing: bool,
        seen: &mut BTreeMap<u8, String>,
        errors: &mut Errors,
    ) -> Option<Self> {
        let field = parsed_field.field;
        let (member, name) = match &field.ident {
            Some(ident) => (Member::Named(ident.clone()), ident.to_string()),
            None => (
                Member::Unnamed(parsed_field.index.into()),
                parsed_field.index.to_string(),
            ),
        };
        let wire_name = match (&parsed_field.attrs.name, &field.ident) {
            (Some(name), _) => name.value(),
            (None, Some(ident)) => lower_camel_case(&ident.to_string()),
            (None, None) => name.clone(),
        };
        let Some((tag, tag_span)) = parsed_field.attrs.tag else {
            errors.push(syn::Error::new(
                field.span(),
                format!("field `{name}` has no tag; add `#[tars(tag = N)]` with a tag from 0 to 255 that no other field uses"),
            ));
            return None;
        };
        if let Some(other) = seen.insert(tag, name.clone()) {
            errors.push(syn::Error::new(
                tag_span,
                format!(
                    "tag {tag} is already used by field `{other}`; each field needs its own tag"
                ),
            ));
        }
        if let Some(error) = unsupported_field_type(&field.ty, borrowing) {
            errors.push(error);
        }
        let presence = Presence::build(&parsed_field.attrs, is_option(&field.ty), errors)?;
        Some(FieldModel {
            member,
            name,
            wire_name,
            ty: field.ty.clone(),
            tag,
            presence,
        })
    }
}

impl Presence {
    /// What a field's `optional`, `require` and `default` say, checked against each other and
    /// against an `Option` type.
    fn build(attrs: &FieldAttrs, is_option: bool, errors: &mut Errors) -> Option<Self> {
        let error = match (&attrs.default, attrs.optional, attrs.require) {
            (_, Some(_), Some(span)) => {
                syn::Error::new(span, "a field is either `optional` or `require`, not both")
            }
            (Some(default), _, Some(span)) => syn::Error::new(
                span.join(default.span()).unwrap_or(span),
                "a `default` applies to optional fields only; remove `require` or `default`",
            ),
            (Some(default), _, None) if is_option => syn::Error::new(
                default.span(),
                "an `Option` field defaults to `None`; remove `default`, or use the inner type with `default = ...`",
            ),
            (None, None, Some(span)) if is_option => syn::Error::new(
                span,
                "an `Option` field is optional on the wire; remove `require`, or use the inner type",
            ),
            (Some(default), _, None) => return Some(Presence::OptionalWithDefault(default.clone())),
            (None, Some(_), None) => return Some(Presence::Optional),
            (None, None, None) if is_option => return Some(Presence::Optional),
            (None, None, _) => return Some(Presence::Required),
        };
        errors.push(error);
        None
    }
}

impl EnumModel {
    pub fn build(parsed: ParsedEnum<'_>) -> syn::Result<Self> {
        let mut errors = Errors::default();
        if let Some(name) = &parsed.container.name {
            errors.push(syn::Error::new(
                name.span(),
                "a TARS enum has no type name of its own: it is an `int32` on the wire and in TUP; remove `name`",
            ));
        }
        let mut variants = Vec::new();
        let mut seen: BTreeMap<i32, Ident> = BTreeMap::new();
        let mut next: Option<i64> = Some(0);
        for parsed_variant in &parsed.variants {
            let variant = parsed_variant.variant;
            if !variant.fields.is_empty() {
                errors.push(syn::Error::new(
                    variant.fields.span(),
                    format!(
                        "a TARS enum is a plain integer; remove the fields of `{}`",
                        variant.ident
                    ),
                ));
                continue;
            }
            let value = match &variant.discriminant {
                Some((_, expr)) => match int_literal(expr) {
                    Some(value) => Some(value),
                    None => {
                        errors.push(syn::Error::new(
                            expr.span(),
                            "write the value as an integer literal, e.g. `Blue = 5`, so the macro can number the variants after it",
                        ));
                        continue;
                    }
                },
                None => next,
            };
            let Some(value) = value.and_then(|value| i32::try_from(value).ok()) else {
                errors.push(syn::Error::new(
                    variant.span(),
                    "a TARS enum value must fit in an `int` (i32)",
                ));
                continue;
            };
            if let Some(other) = seen.insert(value, variant.ident.clone()) {
                errors.push(syn::Error::new(
                    variant.span(),
                    format!("value {value} is already used by `{other}`; each variant needs its own value"),
                ));
            }
            next = i64::from(value).checked_add(1);
            variants.push(VariantModel {
                ident: variant.ident.clone(),
                value,
            });
        }
        errors.finish(EnumModel {
            ident: parsed.input.ident.clone(),
            generics: parsed.input.generics.clone(),
            krate: default_krate(parsed.container.krate),
            variants,
        })
    }
}

fn int_literal(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit.base10_parse().ok(),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => int_literal(expr).map(|v| -v),
        Expr::Group(group) => int_literal(&group.expr),
        _ => None,
    }
}

/// Whether the type is written `Option<...>` (an optional field by nature).
pub fn is_option(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|segment| segment.ident == "Option")
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

/// A clear error for field types TARS has no encoding for, instead of a trait-bound error.
pub fn unsupported_type(ty: &Type) -> Option<syn::Error> {
    unsupported_field_type(ty, false)
}

/// As [`unsupported_type`]; a field of a struct with a lifetime parameter (`borrowing`) may
/// also be `&str` or `&[u8]`, read in place from the input.
pub fn unsupported_field_type(ty: &Type, borrowing: bool) -> Option<syn::Error> {
    let message = match ty {
        Type::Reference(reference) if borrowing => {
            if reference.mutability.is_none() && is_str_or_bytes(&reference.elem) {
                return None;
            }
            "a borrowed TARS struct can hold `&str` and `&[u8]`, read in place from the input; use an owned TARS type for anything else".to_string()
        }
        Type::Reference(_) => "a TARS struct owns its data: use `String` instead of `&str`, and `Vec<T>` or `Bytes` instead of a slice; or give the struct a lifetime parameter (`struct View<'a>`) to read `&'a str` and `&'a [u8]` in place".to_string(),
        Type::Tuple(tuple) if tuple.elems.is_empty() => "`()` has no TARS encoding; remove the field".to_string(),
        Type::Tuple(_) => "tuples have no TARS encoding; use a struct that derives `TarsStruct`".to_string(),
        Type::Array(_) | Type::Slice(_) => "arrays have no TARS encoding; use `Vec<T>`, or `Vec<u8>` or `Bytes` for bytes".to_string(),
        _ => {
            let segment = last_segment(ty)?;
            if segment.ident == "Cow" {
                return cow_error(segment, borrowing);
            }
            if let PathArguments::AngleBracketed(args) = &segment.arguments {
                let is_container = ["Vec", "HashMap", "BTreeMap"].iter().any(|name| segment.ident == name);
                for arg in &args.args {
                    if let GenericArgument::Type(inner) = arg {
                        if is_container && is_option(inner) {
                            return Some(syn::Error::new(
                                inner.span(),
                                "`Option` cannot be an element of a TARS list or map, which has no null entries; leave absent entries out, or use a struct with an optional field",
                            ));
                        }
                        if let Some(error) = unsupported_field_type(inner, borrowing) {
                            return Some(error);
                        }
                    }
                }
                return None;
            }
            let advice = match segment.ident.to_string().as_str() {
                "u64" | "usize" | "u128" => "TARS has no unsigned 64-bit integer; use `i64` (TARS `long`) or `u32`",
                "isize" | "i128" => "TARS integers are at most 64 bits; use `i64` (TARS `long`)",
                "char" => "TARS has no character type; use `i8` (TARS `byte`) or `String`",
                "str" => "use `String`",
                _ => return None,
            };
            format!("`{}` is not a TARS type: {advice}", segment.ident)
        }
    };
    Some(syn::Error::new(ty.span(), message))
}

/// `Cow<'a, str>` and `Cow<'a, [u8]>` are read by a borrowed struct; nothing else of `Cow`.
fn cow_error(segment: &syn::PathSegment, borrowing: bool) -> Option<syn::Error> {
    let inner = match &segment.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
            GenericArgument::Type(inner) => Some(inner),
            _ => None,
        }),
        _ => None,
    };
    if borrowing && inner.is_some_and(is_str_or_bytes) {
        return None;
    }
    let message = if borrowing {
        "a borrowed TARS struct can hold `Cow<'a, str>` and `Cow<'a, [u8]>`; use an owned TARS type for anything else"
    } else {
        "use `String` or `Vec<u8>` here; only a struct with a lifetime parameter (a borrowed view) holds `Cow<'a, str>` and `Cow<'a, [u8]>`"
    };
    Some(syn::Error::new(segment.span(), message))
}

/// `str` or `[u8]`, what a borrowed field may point to.
fn is_str_or_bytes(ty: &Type) -> bool {
    match ty {
        Type::Slice(slice) => {
            last_segment(&slice.elem).is_some_and(|segment| segment.ident == "u8")
        }
        _ => last_segment(ty).is_some_and(|segment| segment.ident == "str"),
    }
}

/// The span of a field's type, so that trait-bound errors point at the field.
pub fn type_span(ty: &Type) -> Span {
    ty.span()
}
