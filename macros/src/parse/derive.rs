//! Reads a derive input and its `#[tars(...)]` attributes, checking only their syntax.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, LitInt, LitStr, Path};

/// The container attributes: `#[tars(crate = "path")]`, where the facade crate is, and
/// `#[tars(name = "Module.Struct")]`, the TARS type name.
pub struct ContainerAttrs {
    pub krate: Option<Path>,
    pub name: Option<LitStr>,
}

/// A field's `#[tars(...)]` attribute as written.
#[derive(Default)]
pub struct FieldAttrs {
    /// The tag and the span of its literal.
    pub tag: Option<(u8, Span)>,
    pub optional: Option<Span>,
    pub require: Option<Span>,
    pub default: Option<Expr>,
    /// `name = "..."`: the field's JSON name.
    pub name: Option<LitStr>,
}

pub struct ParsedField<'a> {
    pub field: &'a syn::Field,
    pub index: usize,
    pub attrs: FieldAttrs,
}

pub struct ParsedStruct<'a> {
    pub input: &'a DeriveInput,
    pub container: ContainerAttrs,
    pub fields: Vec<ParsedField<'a>>,
}

pub struct ParsedVariant<'a> {
    pub variant: &'a syn::Variant,
}

pub struct ParsedEnum<'a> {
    pub input: &'a DeriveInput,
    pub container: ContainerAttrs,
    pub variants: Vec<ParsedVariant<'a>>,
}

/// Collects several errors into one, so the user sees all of them at once.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// How many errors are collected.
    pub fn count(&self) -> usize {
        self.0.as_ref().map_or(0, |error| error.into_iter().count())
    }

    pub fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}

pub fn parse_struct(input: &DeriveInput) -> syn::Result<ParsedStruct<'_>> {
    let fields = match &input.data {
        Data::Struct(data) => &data.fields,
        Data::Enum(data) => {
            return Err(syn::Error::new(
                data.enum_token.span(),
                "TarsStruct is for structs; for a TARS enum write `#[derive(TarsEnum)]`",
            ))
        }
        Data::Union(data) => {
            return Err(syn::Error::new(
                data.union_token.span(),
                "TarsStruct is for structs; TARS has no unions",
            ))
        }
    };
    let mut errors = Errors::default();
    let container = parse_container_attrs(input, &mut errors);
    let fields = match fields {
        Fields::Named(named) => named.named.iter().collect(),
        Fields::Unnamed(unnamed) => unnamed.unnamed.iter().collect(),
        Fields::Unit => Vec::new(),
    };
    let fields = fields
        .into_iter()
        .enumerate()
        .map(|(index, field)| ParsedField {
            field,
            index,
            attrs: parse_field_attrs(field, &mut errors),
        })
        .collect();
    errors.finish(ParsedStruct {
        input,
        container,
        fields,
    })
}

pub fn parse_enum(input: &DeriveInput) -> syn::Result<ParsedEnum<'_>> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "TarsEnum is for enums; for a TARS struct write `#[derive(TarsStruct)]`",
        ));
    };
    let mut errors = Errors::default();
    let container = parse_container_attrs(input, &mut errors);
    let variants = data
        .variants
        .iter()
        .map(|variant| ParsedVariant { variant })
        .collect();
    errors.finish(ParsedEnum {
        input,
        container,
        variants,
    })
}

fn parse_container_attrs(input: &DeriveInput, errors: &mut Errors) -> ContainerAttrs {
    let mut krate = None;
    let mut name = None;
    for attr in input
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("tars"))
    {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let path: LitStr = meta.value()?.parse()?;
                krate = Some(path.parse()?);
                Ok(())
            } else if meta.path.is_ident("name") {
                name = Some(meta.value()?.parse::<LitStr>()?);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown container attribute; the ones accepted here are `#[tars(crate = \"path::to::tars_rpc\")]` and `#[tars(name = \"Module.Struct\")]`",
                ))
            }
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    ContainerAttrs { krate, name }
}

fn parse_field_attrs(field: &syn::Field, errors: &mut Errors) -> FieldAttrs {
    let mut attrs = FieldAttrs::default();
    for attr in field
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("tars"))
    {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("tag") {
                let lit: LitInt = meta.value()?.parse()?;
                let tag = lit.base10_parse::<u8>().map_err(|_| {
                    syn::Error::new(lit.span(), "a TARS tag is an integer from 0 to 255")
                })?;
                attrs.tag = Some((tag, lit.span()));
            } else if meta.path.is_ident("optional") {
                attrs.optional = Some(meta.path.span());
            } else if meta.path.is_ident("require") || meta.path.is_ident("required") {
                attrs.require = Some(meta.path.span());
            } else if meta.path.is_ident("default") {
                attrs.default = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("name") {
                attrs.name = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error(
                    "unknown field attribute; write `#[tars(tag = N)]`, optionally with `optional`, `require`, `default = VALUE` or `name = \"jsonName\"`",
                ));
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    attrs
}
