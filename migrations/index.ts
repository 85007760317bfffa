import { Migration20261121141636_initial } from './Migration20261121141636_initial';

/** Every migration, in order. A new migration file is added here too (see README). */
export const migrationsList: { name: string; class: new (...args: any[]) => any }[] = [
  { name: 'Migration20261121141636_initial', class: Migration20261121141636_initial },
];
