//! Writes the impls for `#[derive(TarsStruct)]` and `#[derive(TarsEnum)]`.
//!
//! The impls stay short: encoding and decoding logic lives in the runtime's `__private`
//! helpers, named through the facade crate so that users depend on `tars-rpc` alone.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{Expr, ExprLit, Generics, Lit, Path};

use crate::model::derive::{type_span, EnumModel, Presence, StructModel};

/// Adds `T: #bound` to every type parameter.
fn bounded_generics(generics: &Generics, bound: TokenStream) -> Generics {
    let mut generics = generics.clone();
    let params: Vec<_> = generics
        .type_params()
        .map(|param| param.ident.clone())
        .collect();
    let where_clause = generics.make_where_clause();
    for param in params {
        where_clause
            .predicates
            .push(syn::parse_quote!(#param: #bound));
    }
    generics
}

/// `TarsEncode`, `TarsType` and `TarsDecode` for a struct or enum that owns its data,
/// delegating to the runtime helper pair `write_*`/`read_*`, with `more`: the type name and
/// JSON methods.
fn tars_type_impl(
    model_ident: &syn::Ident,
    generics: &Generics,
    krate: &Path,
    kind: &str,
    more: TokenStream,
) -> TokenStream {
    let p = quote!(#krate::__private);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let write = format_ident!("write_{kind}");
    let read = format_ident!("read_{kind}");
    let decode_generics = with_input_lifetime(generics);
    let (decode_impl_generics, _, _) = decode_generics.split_for_impl();
    let decode_impl = decode_impl(
        decode_impl_generics,
        quote!(#model_ident #ty_generics),
        where_clause,
        &p,
        &read,
    );
    quote! {
        #[automatically_derived]
        impl #impl_generics #p::TarsEncode for #model_ident #ty_generics #where_clause {
            #[inline]
            fn write_field(&self, tag: u8, buf: &mut #p::BytesMut) {
                #p::#write(self, tag, buf)
            }
        }

        #[automatically_derived]
        impl #impl_generics #p::TarsType for #model_ident #ty_generics #where_clause {
            #more
        }

        #decode_impl
    }
}

/// `TarsDecode<'__tars_input>` for `target`, reading through the runtime helper `read`.
fn decode_impl(
    impl_generics: syn::ImplGenerics<'_>,
    target: TokenStream,
    where_clause: Option<&syn::WhereClause>,
    p: &TokenStream,
    read: &syn::Ident,
) -> TokenStream {
    let de = input_lifetime();
    quote! {
        #[automatically_derived]
        impl #impl_generics #p::TarsDecode<#de> for #target #where_clause {
            #[inline]
            fn read_field(
                reader: &mut #p::TarsReader<#de>,
                head: #p::Head,
            ) -> #p::Result<Self, #p::DecodeError> {
                #p::#read(reader, head)
            }
        }
    }
}

/// The lifetime of the input a value is read from, in generated `TarsDecode` impls.
fn input_lifetime() -> syn::Lifetime {
    syn::Lifetime::new("'__tars_input", proc_macro2::Span::call_site())
}

/// `generics` with the input lifetime first, outliving every lifetime of the type.
fn with_input_lifetime(generics: &Generics) -> Generics {
    let de = input_lifetime();
    let mut generics = generics.clone();
    let lifetimes: Vec<_> = generics
        .lifetimes()
        .map(|def| def.lifetime.clone())
        .collect();
    let param: syn::LifetimeParam = if lifetimes.is_empty() {
        syn::parse_quote!(#de)
    } else {
        syn::parse_quote!(#de: #(#lifetimes)+*)
    };
    generics.params.insert(0, param.into());
    generics
}

pub fn struct_impl(model: &StructModel) -> TokenStream {
    if model.borrowing {
        return view_impl(model);
    }
    let krate = &model.krate;
    let p = quote!(#krate::__private);
    let ident = &model.ident;
    let name = ident.to_string();
    let generics = bounded_generics(&model.generics, quote!(#p::TarsType));
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let write_fields = write_fields(model, &p, &format_ident!("write_fields"));
    let read_fields = read_fields(model, &p, &quote!('_));
    let tars_name = &model.tars_name;
    let to_json = to_json(model, &p);
    let from_json = from_json(model, &p);
    let more = quote! {
        fn tars_type_name() -> #p::String {
            #p::type_name(#tars_name)
        }

        #to_json

        #from_json
    };
    let type_impl = tars_type_impl(ident, &generics, krate, "struct", more);
    quote! {
        #[automatically_derived]
        impl #impl_generics #p::TarsStruct for #ident #ty_generics #where_clause {
            const STRUCT_NAME: &'static str = #name;

            #write_fields

            #read_fields
        }

        #type_impl
    }
}

/// A struct with a lifetime parameter: `TarsStructRef` and `TarsDecode` for the input lifetime,
/// which outlives the struct's, and `TarsEncode`; its type parameters are read from the same
/// input and written. The fields are written by one private method that both writers call,
/// since no one input lifetime outlives every lifetime of the struct where `TarsEncode` is
/// implemented.
fn view_impl(model: &StructModel) -> TokenStream {
    let krate = &model.krate;
    let p = quote!(#krate::__private);
    let ident = &model.ident;
    let name = ident.to_string();
    let de = input_lifetime();
    let encode_generics = bounded_generics(&model.generics, quote!(#p::TarsEncode));
    let (encode_impl_generics, ty_generics, encode_where) = encode_generics.split_for_impl();
    let generics = bounded_generics(
        &with_input_lifetime(&encode_generics),
        quote!(#p::TarsDecode<#de>),
    );
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let writer = format_ident!("__tars_write_fields");
    let write_fields = write_fields(model, &p, &writer);
    let read_fields = read_fields(model, &p, &quote!(#de));
    let decode_impl = decode_impl(
        impl_generics.clone(),
        quote!(#ident #ty_generics),
        where_clause,
        &p,
        &format_ident!("read_struct_ref"),
    );
    quote! {
        #[automatically_derived]
        impl #encode_impl_generics #ident #ty_generics #encode_where {
            #write_fields
        }

        #[automatically_derived]
        impl #encode_impl_generics #p::TarsEncode for #ident #ty_generics #encode_where {
            #[inline]
            fn write_field(&self, tag: u8, buf: &mut #p::BytesMut) {
                #p::write_struct_with(tag, buf, |buf| self.#writer(buf))
            }
        }

        #[automatically_derived]
        impl #impl_generics #p::TarsStructRef<#de> for #ident #ty_generics #where_clause {
            const STRUCT_NAME: &'static str = #name;

            fn write_fields(&self, buf: &mut #p::BytesMut) {
                self.#writer(buf)
            }

            #read_fields
        }

        #decode_impl
    }
}

/// `TarsStruct::write_fields`, named `name`: each field by its presence, in tag order.
fn write_fields(model: &StructModel, p: &TokenStream, name: &syn::Ident) -> TokenStream {
    let writes = model.fields.iter().map(|field| {
        let member = &field.member;
        let tag = field.tag;
        // spanned so that a type without a TARS encoding is reported at the field
        let span = type_span(&field.ty);
        match &field.presence {
            Presence::Required => {
                quote_spanned!(span=> #p::write_required(&self.#member, #tag, buf);)
            }
            Presence::Optional => quote_spanned!(span=> #p::write_optional(&self.#member, #tag, buf);),
            Presence::OptionalWithDefault(default) => {
                quote_spanned!(span=> #p::write_unless_default(&self.#member, &(#default), #tag, buf);)
            }
        }
    });
    quote! {
        fn #name(&self, buf: &mut #p::BytesMut) {
            #(#writes)*
        }
    }
}

/// `TarsStruct::read_fields` (or `TarsStructRef`'s, reading from `input`): every field into a
/// local by its tag, unknown tags skipped, then absent fields checked or defaulted.
fn read_fields(model: &StructModel, p: &TokenStream, input: &TokenStream) -> TokenStream {
    let name = model.ident.to_string();
    let locals: Vec<_> = (0..model.fields.len())
        .map(|i| format_ident!("__field{i}"))
        .collect();
    let declarations = model.fields.iter().zip(&locals).map(|(field, local)| {
        let ty = &field.ty;
        quote!(let mut #local: #p::Option<#ty> = #p::None;)
    });
    let arms = model.fields.iter().zip(&locals).map(|(field, local)| {
        let tag = field.tag;
        let field_name = &field.name;
        let span = type_span(&field.ty);
        let ty = &field.ty;
        let read = quote_spanned!(span=> #p::read_field::<#ty>(reader, head, #name, #field_name));
        quote!(#tag => #local = #p::Some(#read?),)
    });
    let inits = model.fields.iter().zip(&locals).map(|(field, local)| {
        let member = &field.member;
        let tag = field.tag;
        let field_name = &field.name;
        let value = match &field.presence {
            Presence::Required => quote!(#p::required(#local, #name, #field_name, #tag)?),
            Presence::Optional => quote!(#p::Option::unwrap_or_default(#local)),
            Presence::OptionalWithDefault(default) => {
                let default = owned_default(default);
                quote!(match #local { #p::Some(value) => value, #p::None => #default })
            }
        };
        quote!(#member: #value,)
    });
    quote! {
        fn read_fields(reader: &mut #p::TarsReader<#input>) -> #p::Result<Self, #p::DecodeError> {
            #(#declarations)*
            while let #p::Some(head) = reader.next_field()? {
                match head.tag {
                    #(#arms)*
                    _ => reader.skip_value(head)?,
                }
            }
            #p::Ok(Self { #(#inits)* })
        }
    }
}

/// `TarsType::to_json` for a struct: an object with each field under its JSON name.
fn to_json(model: &StructModel, p: &TokenStream) -> TokenStream {
    let name = model.ident.to_string();
    let writes = model.fields.iter().map(|field| {
        let member = &field.member;
        let wire_name = &field.wire_name;
        let span = type_span(&field.ty);
        quote_spanned!(span=> #p::json_write_field(&mut object, &self.#member, #name, #wire_name)?;)
    });
    quote! {
        fn to_json(&self) -> #p::Result<#p::JsonValue, #p::JsonError> {
            let mut object = #p::JsonMap::new();
            #(#writes)*
            #p::Ok(#p::JsonValue::Object(object))
        }
    }
}

/// `TarsType::from_json` for a struct: each field by its JSON name, absent ones checked or
/// defaulted as when decoding.
fn from_json(model: &StructModel, p: &TokenStream) -> TokenStream {
    let name = model.ident.to_string();
    let inits = model.fields.iter().map(|field| {
        let member = &field.member;
        let wire_name = &field.wire_name;
        let ty = &field.ty;
        let span = type_span(ty);
        let read = quote_spanned!(span=> #p::json_optional::<#ty>(object, #name, #wire_name)?);
        let value = match &field.presence {
            Presence::Required => {
                quote_spanned!(span=> #p::json_required::<#ty>(object, #name, #wire_name)?)
            }
            Presence::Optional => quote!(#p::Option::unwrap_or_default(#read)),
            Presence::OptionalWithDefault(default) => {
                let default = owned_default(default);
                quote!(match #read { #p::Some(value) => value, #p::None => #default })
            }
        };
        quote!(#member: #value,)
    });
    quote! {
        fn from_json(value: &#p::JsonValue) -> #p::Result<Self, #p::JsonError> {
            let object = #p::json_object(value)?;
            #p::Ok(Self { #(#inits)* })
        }
    }
}

/// A string literal default becomes the field's type through `Into` (a `String`, or a `&str`
/// as it is); any other expression is used as written.
fn owned_default(default: &Expr) -> TokenStream {
    match default {
        Expr::Lit(ExprLit {
            lit: Lit::Str(_), ..
        }) => {
            quote!(::core::convert::Into::into(#default))
        }
        _ => quote!(#default),
    }
}

pub fn enum_impl(model: &EnumModel) -> TokenStream {
    let krate = &model.krate;
    let p = quote!(#krate::__private);
    let ident = &model.ident;
    let name = ident.to_string();
    let (impl_generics, ty_generics, where_clause) = model.generics.split_for_impl();
    let to_value = model.variants.iter().map(|variant| {
        let (variant, value) = (&variant.ident, variant.value);
        quote!(Self::#variant => #value,)
    });
    let from_value = model.variants.iter().map(|variant| {
        let (variant, value) = (&variant.ident, variant.value);
        quote!(#value => #p::Some(Self::#variant),)
    });
    let more = quote! {
        fn tars_type_name() -> #p::String {
            #p::type_name("int32")
        }
        fn to_json(&self) -> #p::Result<#p::JsonValue, #p::JsonError> {
            #p::enum_to_json(self)
        }
        fn from_json(value: &#p::JsonValue) -> #p::Result<Self, #p::JsonError> {
            #p::enum_from_json(value)
        }
        fn to_json_key(&self) -> #p::Result<#p::String, #p::JsonError> {
            #p::enum_to_json_key(self)
        }
        fn from_json_key(key: &str) -> #p::Result<Self, #p::JsonError> {
            #p::enum_from_json_key(key)
        }
    };
    let type_impl = tars_type_impl(ident, &model.generics, krate, "enum", more);
    quote! {
        #[automatically_derived]
        impl #impl_generics #p::TarsEnum for #ident #ty_generics #where_clause {
            const ENUM_NAME: &'static str = #name;

            fn value(&self) -> i32 {
                match *self {
                    #(#to_value)*
                }
            }

            fn from_value(value: i32) -> #p::Option<Self> {
                match value {
                    #(#from_value)*
                    _ => #p::None,
                }
            }
        }

        #type_impl
    }
}
