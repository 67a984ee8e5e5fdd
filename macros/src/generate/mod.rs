pub mod derive;
pub mod function;
pub mod interface;
pub mod push;
