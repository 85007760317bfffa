import { ObjectType } from 'type-graphql';
import { connectionOf } from './page.type';

/**
 * Contract type Thread (issue 32). The source object is a ThreadView (its root message); every
 * field is resolved by ThreadResolver.
 */
@ObjectType('Thread')
export class ThreadType {}

export const ThreadConnection = connectionOf(ThreadType, 'Thread');
